-- Ending a session is two steps: the status (so the key is refused at once), then the replay files. A crash
-- between them used to lose the replay, because start-up revived only 'live' sessions. replay_pending = 1 from
-- the first step until the replay is written; start-up (and a periodic sweep) finishes what it finds.
-- The public status stays 'ended' throughout (SPEC §6.1 has no other state for it).
ALTER TABLE live_sessions ADD COLUMN replay_pending INTEGER NOT NULL DEFAULT 0;
CREATE INDEX ix_live_sessions_replay_pending ON live_sessions (replay_pending, id);
