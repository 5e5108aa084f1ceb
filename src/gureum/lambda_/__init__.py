"""AWS Lambda, the product: functions and versions, aliases, layers, concurrency, invocation,
asynchronous events, and the sandboxes that run function code (`sandbox`).

Layers, top to bottom: `api` (wire adapter) -> `services` -> `store` | `sandbox` -> `domain` (pure).
It reaches KMS and SQS only through their `services`, and Logs through the `LogSink` port.
"""
