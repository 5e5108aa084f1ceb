"""EC2's store: the network of each account and Region in SQLite."""
