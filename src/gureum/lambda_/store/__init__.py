"""Lambda's store adapters: the control-plane store port and its SQLite implementation,
code blobs.
"""
