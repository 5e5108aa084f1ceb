-- CloudWatch Logs (gureum.logs.store.tables): log groups by account and Region, their streams,
-- and the streams' events in the order they were written (`seq`). `size` is an event's bytes as
-- a JSON line, and a stream's the sum of its events': the per-stream cap is measured in them.
-- Messages are UTF-8 bytes: TEXT cannot hold the NUL a function may print.
CREATE TABLE log_groups (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account TEXT COLLATE "C" NOT NULL, region TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL, created BIGINT NOT NULL,
    UNIQUE (account, region, name));
CREATE TABLE log_streams (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    log_group BIGINT NOT NULL REFERENCES log_groups (seq) ON DELETE CASCADE,
    name TEXT COLLATE "C" NOT NULL, size BIGINT NOT NULL,
    UNIQUE (log_group, name));
CREATE TABLE log_events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream BIGINT NOT NULL REFERENCES log_streams (seq) ON DELETE CASCADE,
    event_time BIGINT NOT NULL, ingestion_time BIGINT NOT NULL, message BYTEA NOT NULL,
    size BIGINT NOT NULL);
CREATE INDEX log_events_of_stream ON log_events (stream, seq);
