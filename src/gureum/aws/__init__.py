"""The shared kernel every service uses and none owns: the wire layer (protocol codecs driven by
botocore's models, SigV4, validation, the front door), the AWS error base, accounts, and the
SQLite plumbing.

Nothing here imports a service package.
"""
