-- SQS's queues and their messages (gureum.sqs.store.queues): the SQLite SCHEMA's tables. Names
-- sort byte by byte (COLLATE "C"), as ListQueues does on SQLite; `seq` is taken under the store's
-- advisory lock, so it numbers messages in the order their sends committed.
CREATE TABLE queues (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account TEXT COLLATE "C" NOT NULL, region TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    created DOUBLE PRECISION NOT NULL, modified DOUBLE PRECISION NOT NULL,
    attributes TEXT NOT NULL, tags TEXT NOT NULL,
    UNIQUE (account, region, name));
CREATE TABLE messages (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue_id BIGINT NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
    id TEXT COLLATE "C" NOT NULL, body TEXT NOT NULL, attributes TEXT NOT NULL,
    sender TEXT NOT NULL, trace_header TEXT, dead_letter_source TEXT,
    sent DOUBLE PRECISION NOT NULL, visible_at DOUBLE PRECISION NOT NULL,
    receive_count BIGINT NOT NULL DEFAULT 0, first_received DOUBLE PRECISION, receipt TEXT);
CREATE INDEX messages_due ON messages (queue_id, visible_at, seq);
CREATE INDEX messages_by_id ON messages (queue_id, id);
CREATE INDEX messages_by_age ON messages (queue_id, sent);
