-- KMS's keys (gureum.kms.store.keys): the SQLite SCHEMA's tables, key material only wrapped under
-- the root key (BYTEA), and the root key's check value in key_settings. `rowid` is the order keys
-- were created in, which ListKeys follows: SQLite's implicit column of the same name, made here.
CREATE TABLE keys (
    rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    account TEXT COLLATE "C" NOT NULL, region TEXT COLLATE "C" NOT NULL,
    key_id TEXT COLLATE "C" NOT NULL,
    deletion_due DOUBLE PRECISION, doc TEXT NOT NULL, PRIMARY KEY (account, region, key_id));
CREATE INDEX keys_deletion_due ON keys (deletion_due) WHERE deletion_due IS NOT NULL;
CREATE TABLE key_materials (
    account TEXT COLLATE "C" NOT NULL, region TEXT COLLATE "C" NOT NULL,
    key_id TEXT COLLATE "C" NOT NULL, version BIGINT NOT NULL,
    wrapped BYTEA NOT NULL, PRIMARY KEY (account, region, key_id, version),
    FOREIGN KEY (account, region, key_id) REFERENCES keys ON DELETE CASCADE);
CREATE TABLE key_aliases (
    account TEXT COLLATE "C" NOT NULL, region TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL, key_id TEXT COLLATE "C" NOT NULL,
    created DOUBLE PRECISION NOT NULL, updated DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (account, region, name),
    FOREIGN KEY (account, region, key_id) REFERENCES keys ON DELETE CASCADE);
CREATE TABLE key_settings (name TEXT COLLATE "C" PRIMARY KEY, value BYTEA NOT NULL);
