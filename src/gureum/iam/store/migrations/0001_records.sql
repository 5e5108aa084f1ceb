-- IAM's records (gureum.iam.store.records): a row per role, user, managed policy, inline
-- policy and attachment of an account, keyed by kind and lower-cased name, each as JSON; and
-- the access keys, by id alone (the front door finds a key before it knows the account).
-- `user` is a reserved word here: the column is quoted, as every query quotes it.
CREATE TABLE records (
    account TEXT COLLATE "C" NOT NULL, kind TEXT COLLATE "C" NOT NULL,
    key TEXT COLLATE "C" NOT NULL, owner TEXT COLLATE "C" NOT NULL,
    document TEXT NOT NULL, PRIMARY KEY (account, kind, key));
CREATE INDEX records_of ON records (account, kind, owner);
CREATE TABLE access_keys (
    id TEXT COLLATE "C" PRIMARY KEY, account TEXT COLLATE "C" NOT NULL,
    "user" TEXT COLLATE "C" NOT NULL, document TEXT NOT NULL);
CREATE INDEX access_keys_of ON access_keys (account, "user");
