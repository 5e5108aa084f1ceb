"""SQS's services: queues (the public interface), messages, long-poll waiters."""
