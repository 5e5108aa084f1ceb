-- EFS's records (gureum.efs.store.records): a row per file system, mount target and access
-- point of an account and Region, each as JSON beside the columns it is found by. A mount
-- target or access point refers to its file system, which cannot go while one does (the
-- service deletes a file system's access points with it and refuses while mount targets stay).
CREATE TABLE file_systems (
    id TEXT COLLATE "C" PRIMARY KEY, account TEXT COLLATE "C" NOT NULL,
    region TEXT COLLATE "C" NOT NULL, token TEXT COLLATE "C" NOT NULL,
    document TEXT NOT NULL, UNIQUE (account, region, token));
CREATE TABLE mount_targets (
    id TEXT COLLATE "C" PRIMARY KEY, account TEXT COLLATE "C" NOT NULL,
    region TEXT COLLATE "C" NOT NULL,
    file_system TEXT COLLATE "C" NOT NULL REFERENCES file_systems(id), document TEXT NOT NULL);
CREATE INDEX mount_targets_of ON mount_targets (file_system);
CREATE TABLE access_points (
    id TEXT COLLATE "C" PRIMARY KEY, account TEXT COLLATE "C" NOT NULL,
    region TEXT COLLATE "C" NOT NULL,
    file_system TEXT COLLATE "C" NOT NULL REFERENCES file_systems(id),
    token TEXT COLLATE "C" NOT NULL, document TEXT NOT NULL);
CREATE INDEX access_points_of ON access_points (file_system);
CREATE INDEX access_points_by_token ON access_points (account, region, token);
