-- EC2's networks (gureum.ec2.store.network): a row per VPC, subnet, security group and route
-- table of an account and Region, and the Region's peering connections, each as JSON.
CREATE TABLE resources (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account TEXT COLLATE "C" NOT NULL, region TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL, kind TEXT NOT NULL, document TEXT NOT NULL,
    UNIQUE (account, region, id));
CREATE TABLE peerings (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    region TEXT COLLATE "C" NOT NULL, id TEXT COLLATE "C" NOT NULL, document TEXT NOT NULL,
    UNIQUE (region, id));
