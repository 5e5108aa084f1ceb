"""Where a function finds gureum's endpoint and its Runtime API inside its network namespace."""

from __future__ import annotations

import pytest

from gureum.lambda_.sandbox.network import NetworkPlan


@pytest.mark.parametrize(
    ("endpoint", "host", "port", "runtime_api_port"),
    [
        ("http://127.0.0.1:4566", "127.0.0.1", 4566, 9001),
        ("http://localhost:4566", "127.0.0.1", 4566, 9001),
        ("http://192.0.2.7:8080", "192.0.2.7", 8080, 9001),
        # A server on AWS's own Runtime API port keeps it: the Runtime API moves over by one.
        ("http://127.0.0.1:9001", "127.0.0.1", 9001, 9002),
    ],
)
def test_the_endpoint_is_at_the_hosts_address_inside(
    endpoint: str, host: str, port: int, runtime_api_port: int
) -> None:
    plan = NetworkPlan.for_endpoint(endpoint)
    assert (plan.endpoint_host, plan.endpoint_port) == (host, port)
    assert plan.runtime_api_port == runtime_api_port
