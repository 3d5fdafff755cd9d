-- Moderators of a live show, appointed by its owner (SPEC §14). Every moderation request reads its right from
-- here (no cache), so a removal takes effect at once on every node.
CREATE TABLE live_moderators (
    session_id    TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    appointed_by  TEXT NOT NULL,
    appointed_at  BIGINT NOT NULL,
    PRIMARY KEY (session_id, user_id)
);

-- Bumped by every appointment: the row lock serializes a show's appointments, so the cap holds on PostgreSQL too.
CREATE TABLE live_moderator_versions (
    session_id  TEXT PRIMARY KEY,
    version     BIGINT NOT NULL
);

-- The sender's role in the session when the message was sent: seller, moderator or viewer (NULL before this script).
ALTER TABLE chat_messages ADD COLUMN role TEXT NULL;
