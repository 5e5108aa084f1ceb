"""What the console reads and does, over the other services' public services."""
