"""Application Auto Scaling for Lambda provisioned concurrency (spec 6.4)."""
