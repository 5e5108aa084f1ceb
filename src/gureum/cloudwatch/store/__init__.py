"""CloudWatch's stores: one-minute points and alarms in SQLite."""
