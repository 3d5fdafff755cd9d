-- Recordings in object storage (SPEC §12, ADR 0023). With Pasar:Storage:S3 configured, a session's segments are
-- uploaded while it runs. upload_state is the durable record of that work: 'uploading' from the first segment
-- until the replay's playlists are in the store, then 'stored' (replay_stored_at set). The files still to upload
-- are the ones on the ingesting node's disk (a local segment is deleted only after its upload), so a node that
-- restarts after kill -9 finds its unfinished sessions here and uploads what its disk holds.
-- NULL: a recording kept on local disk (no store configured, or recorded before the store was).
ALTER TABLE live_sessions ADD COLUMN upload_state TEXT NULL;
ALTER TABLE live_sessions ADD COLUMN replay_stored_at BIGINT NULL;
CREATE INDEX ix_live_sessions_upload_state ON live_sessions (upload_state, id);
