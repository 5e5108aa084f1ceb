"""KMS's store adapters: wrapped key material on the SQL port (SQLite or PostgreSQL), the root
key."""
