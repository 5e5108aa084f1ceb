"""Lambda's services: control-plane operations, admission, invocation and async
delivery, over ports.
"""
