"""IAM's SQLite store."""
