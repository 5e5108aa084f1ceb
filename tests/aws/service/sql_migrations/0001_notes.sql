-- The SQL port's contract tests (test_sql_port.py): the same table as their SQLite SCHEMA.
CREATE TABLE notes (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL UNIQUE, body TEXT NOT NULL, flag BIGINT NOT NULL, data BYTEA);
