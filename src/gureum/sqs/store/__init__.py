"""SQS's store adapter: queues and messages in SQLite."""
