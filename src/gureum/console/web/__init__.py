"""The console's HTTP side: pages, forms, server-sent events and assets, as an ASGI app."""
