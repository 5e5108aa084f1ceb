-- S3's records (gureum.s3.store.records): buckets with their notification configurations,
-- objects naming their blobs (the bytes are files under the shared directory), multipart
-- uploads and their parts, the notification outbox and the event sequencer. Bucket names and
-- keys are `COLLATE "C"`: listings are in byte order, as S3's and SQLite's are.
CREATE TABLE buckets (
    name TEXT COLLATE "C" PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL, notifications TEXT NOT NULL DEFAULT '[]');
CREATE TABLE objects (
    bucket TEXT COLLATE "C" NOT NULL REFERENCES buckets(name),
    key TEXT COLLATE "C" NOT NULL, blob TEXT NOT NULL, size BIGINT NOT NULL,
    etag TEXT NOT NULL, modified DOUBLE PRECISION NOT NULL, headers TEXT NOT NULL,
    parts BIGINT, PRIMARY KEY (bucket, key));
CREATE TABLE uploads (
    id TEXT PRIMARY KEY, bucket TEXT COLLATE "C" NOT NULL REFERENCES buckets(name),
    key TEXT COLLATE "C" NOT NULL, initiated DOUBLE PRECISION NOT NULL, headers TEXT NOT NULL);
CREATE INDEX uploads_by_bucket ON uploads (bucket, key);
CREATE TABLE parts (
    upload_id TEXT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE, number BIGINT NOT NULL,
    blob TEXT NOT NULL, size BIGINT NOT NULL, etag TEXT NOT NULL, md5 BYTEA NOT NULL,
    modified DOUBLE PRECISION NOT NULL, PRIMARY KEY (upload_id, number));
-- A row is claimed (claimed_until, seconds since the epoch) by the process sending it.
CREATE TABLE outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, account TEXT NOT NULL,
    region TEXT NOT NULL, function_arn TEXT NOT NULL, payload BYTEA NOT NULL,
    request_id TEXT NOT NULL, trace_header TEXT, claimed_until DOUBLE PRECISION);
CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
