-- CloudWatch's metrics (gureum.cloudwatch.store.points): a row per series (a metric of an
-- account and Region), its one-minute points (an aggregate each, its histogram and exact
-- values as JSON), and alarms as JSON documents.
CREATE TABLE series (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account TEXT COLLATE "C" NOT NULL, region TEXT COLLATE "C" NOT NULL,
    namespace TEXT COLLATE "C" NOT NULL, name TEXT COLLATE "C" NOT NULL,
    dimensions TEXT COLLATE "C" NOT NULL, last_at DOUBLE PRECISION NOT NULL,
    UNIQUE (account, region, namespace, name, dimensions));
CREATE TABLE points (
    series BIGINT NOT NULL REFERENCES series(id) ON DELETE CASCADE,
    start DOUBLE PRECISION NOT NULL, unit TEXT COLLATE "C" NOT NULL,
    sum DOUBLE PRECISION NOT NULL, count DOUBLE PRECISION NOT NULL,
    minimum DOUBLE PRECISION NOT NULL, maximum DOUBLE PRECISION NOT NULL,
    histogram TEXT NOT NULL, exact TEXT,
    PRIMARY KEY (series, start, unit));
CREATE INDEX points_by_age ON points (start);
CREATE TABLE alarms (
    account TEXT COLLATE "C" NOT NULL, region TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL, document TEXT NOT NULL,
    PRIMARY KEY (account, region, name));
