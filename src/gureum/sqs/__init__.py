"""Amazon SQS: queues, messages, visibility, long polling, batches.

Layers: `api` -> `services` -> `store` -> `domain` (pure). Other services use `services.queues`.
"""
