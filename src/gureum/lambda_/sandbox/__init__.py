"""Lambda's execution layer: zygotes, execution environments, the Runtime API, cgroups, isolation.

It lives under Lambda because it runs Lambda's runtimes (`gureum.lambda_.domain.runtimes`) and
nothing else uses it.
"""
