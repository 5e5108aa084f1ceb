"""CloudWatch's pure core: metrics, one-minute points, statistics and the rules of a query."""
