"""Amazon CloudWatch Logs: log groups and streams of function logs.

Layers: `api` -> `store` -> `domain`. Lambda writes through its own `LogSink` port.
"""
