"""Amazon EC2, as far as functions and file systems need it: a model of the network."""
