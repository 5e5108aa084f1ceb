"""SQS's pure core: queue attributes, message states, receives, batches, SQS's errors."""
