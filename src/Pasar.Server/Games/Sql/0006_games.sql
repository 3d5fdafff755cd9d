-- Every Shake-Shake play; the Redis/Garnet counter is only the fast gate. play_no is 1..PlaysPerDay and
-- unique per user and region day, so SQL itself never holds more plays than the limit.
CREATE TABLE shake_plays (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    day          TEXT NOT NULL,
    play_no      INTEGER NOT NULL,
    shake_power  INTEGER NOT NULL,
    band         TEXT NOT NULL,
    coins        BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (user_id, day, play_no)
);
CREATE INDEX ix_shake_plays_day ON shake_plays (day);
