"""CloudWatch Logs' values."""
