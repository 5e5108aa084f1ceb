"""CloudWatch Logs against a real server, with boto3's `logs` client."""
