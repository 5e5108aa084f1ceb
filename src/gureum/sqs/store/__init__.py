"""SQS's store adapter: queues and messages on the SQL port (SQLite or PostgreSQL)."""
