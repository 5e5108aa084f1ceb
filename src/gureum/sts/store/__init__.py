"""STS's one file: the key that seals session tokens."""
