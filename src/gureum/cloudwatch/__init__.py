"""Amazon CloudWatch metrics (signing name `monitoring`): custom and `AWS/Lambda` metrics."""
