"""Lambda's wire adapter: each handler parses a request, calls one service method, renders."""
