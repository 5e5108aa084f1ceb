-- Lambda's control plane and its asynchronous event queue (the SQLite store's tables, in
-- PostgreSQL's types: documents as jsonb, payloads as bytea).
CREATE TABLE lambda_functions (
    id TEXT PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
    doc JSONB NOT NULL, previous JSONB, UNIQUE (account, region, name));
CREATE TABLE lambda_versions (
    function_id TEXT NOT NULL REFERENCES lambda_functions(id) ON DELETE CASCADE,
    number INTEGER NOT NULL, settled BOOLEAN NOT NULL, blob TEXT NOT NULL, size BIGINT NOT NULL,
    layer_blobs TEXT NOT NULL, doc JSONB NOT NULL, PRIMARY KEY (function_id, number));
CREATE INDEX lambda_versions_blob ON lambda_versions (blob);
CREATE INDEX lambda_versions_unsettled ON lambda_versions (function_id) WHERE NOT settled;
CREATE TABLE lambda_aliases (
    function_id TEXT NOT NULL REFERENCES lambda_functions(id) ON DELETE CASCADE,
    name TEXT NOT NULL, doc JSONB NOT NULL, PRIMARY KEY (function_id, name));
CREATE TABLE lambda_event_configs (
    function_id TEXT NOT NULL REFERENCES lambda_functions(id) ON DELETE CASCADE,
    qualifier TEXT NOT NULL, doc JSONB NOT NULL, PRIMARY KEY (function_id, qualifier));
CREATE TABLE lambda_provisioned_configs (
    function_id TEXT NOT NULL REFERENCES lambda_functions(id) ON DELETE CASCADE,
    qualifier TEXT NOT NULL, requested INTEGER NOT NULL, doc JSONB NOT NULL,
    PRIMARY KEY (function_id, qualifier));
CREATE TABLE lambda_layers (
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
    next_version INTEGER NOT NULL, PRIMARY KEY (account, region, name));
CREATE TABLE lambda_layer_versions (
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL,
    blob TEXT NOT NULL, size BIGINT NOT NULL, doc JSONB NOT NULL,
    PRIMARY KEY (account, region, name, version));
-- The queue. An event being delivered is claimed by the process delivering it: the backend
-- (pid, start) of that process's claim connection, live as long as pg_stat_activity shows it,
-- so a process that dies lets go of its claims at once, with no timeout to wait out.
CREATE TABLE lambda_events (
    id BIGSERIAL PRIMARY KEY, request_id TEXT NOT NULL, account TEXT NOT NULL,
    region TEXT NOT NULL, function_name TEXT NOT NULL, qualifier TEXT, payload BYTEA NOT NULL,
    accepted_at DOUBLE PRECISION NOT NULL, invocations INTEGER NOT NULL,
    backoffs INTEGER NOT NULL, due_at DOUBLE PRECISION NOT NULL, trace_header TEXT,
    claim_pid INTEGER, claim_start TIMESTAMPTZ);
CREATE INDEX lambda_events_due ON lambda_events (due_at);
