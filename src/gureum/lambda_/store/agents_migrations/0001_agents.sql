-- The cluster's agents (gureum.lambda_.store.agents): each one's latest heartbeat.
CREATE TABLE agents (
    id TEXT COLLATE "C" PRIMARY KEY, address TEXT NOT NULL, seen DOUBLE PRECISION NOT NULL,
    running BIGINT NOT NULL, idle TEXT NOT NULL);
