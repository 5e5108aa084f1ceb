-- Application Auto Scaling (gureum.autoscaling.store.scaling): scalable targets, their
-- policies and scheduled actions, scaling activities (newest last) and the scaler's memory of
-- each target, each value as a JSON document. Names are `COLLATE "C"`: lists are in byte
-- order, as SQLite's are.
CREATE TABLE targets (
    account TEXT COLLATE "C" NOT NULL, region TEXT COLLATE "C" NOT NULL,
    resource_id TEXT COLLATE "C" NOT NULL, document TEXT NOT NULL,
    PRIMARY KEY (account, region, resource_id));
CREATE TABLE policies (
    account TEXT COLLATE "C" NOT NULL, region TEXT COLLATE "C" NOT NULL,
    resource_id TEXT COLLATE "C" NOT NULL, name TEXT COLLATE "C" NOT NULL,
    document TEXT NOT NULL, PRIMARY KEY (account, region, resource_id, name));
CREATE TABLE actions (
    account TEXT COLLATE "C" NOT NULL, region TEXT COLLATE "C" NOT NULL,
    resource_id TEXT COLLATE "C" NOT NULL, name TEXT COLLATE "C" NOT NULL,
    document TEXT NOT NULL, PRIMARY KEY (account, region, resource_id, name));
CREATE TABLE activities (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account TEXT COLLATE "C" NOT NULL, region TEXT COLLATE "C" NOT NULL,
    resource_id TEXT COLLATE "C" NOT NULL, id TEXT NOT NULL, document TEXT NOT NULL);
CREATE INDEX activities_by_target ON activities (account, region, resource_id, seq);
CREATE UNIQUE INDEX activities_by_id ON activities (id);
CREATE TABLE scaler (
    account TEXT COLLATE "C" NOT NULL, region TEXT COLLATE "C" NOT NULL,
    resource_id TEXT COLLATE "C" NOT NULL,
    last_out DOUBLE PRECISION, last_in DOUBLE PRECISION, changed_at DOUBLE PRECISION,
    PRIMARY KEY (account, region, resource_id));
