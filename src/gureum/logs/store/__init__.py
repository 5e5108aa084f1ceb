"""CloudWatch Logs' store: streams as files on disk."""
