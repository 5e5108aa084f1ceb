"""Lambda's pure core: rules, state machines and values. No I/O, no clock reads, no randomness."""
