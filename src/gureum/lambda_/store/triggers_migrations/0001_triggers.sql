-- Lambda's triggers (gureum.lambda_.store.event_sources): event source mappings (listed in
-- creation order, `created`), function URL configs and functions' resource policies, each a
-- JSON document keyed by the function's (account, Region, name) and qualifier.
CREATE TABLE event_source_mappings (
    uuid TEXT COLLATE "C" PRIMARY KEY, account TEXT COLLATE "C" NOT NULL,
    region TEXT COLLATE "C" NOT NULL, function_name TEXT COLLATE "C" NOT NULL,
    source_arn TEXT COLLATE "C" NOT NULL, created BIGINT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX mappings_by_function ON event_source_mappings (account, region, function_name);
CREATE TABLE function_urls (
    account TEXT COLLATE "C" NOT NULL, region TEXT COLLATE "C" NOT NULL,
    function_name TEXT COLLATE "C" NOT NULL, qualifier TEXT COLLATE "C" NOT NULL,
    url_id TEXT COLLATE "C" NOT NULL UNIQUE, doc TEXT NOT NULL,
    PRIMARY KEY (account, region, function_name, qualifier));
CREATE TABLE function_policies (
    account TEXT COLLATE "C" NOT NULL, region TEXT COLLATE "C" NOT NULL,
    function_name TEXT COLLATE "C" NOT NULL, qualifier TEXT COLLATE "C" NOT NULL,
    doc TEXT NOT NULL, PRIMARY KEY (account, region, function_name, qualifier));
