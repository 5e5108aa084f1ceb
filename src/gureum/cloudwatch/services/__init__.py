"""CloudWatch's services: the metric service other services publish into."""
