"""KMS's store adapters: wrapped key material in SQLite, the root key."""
