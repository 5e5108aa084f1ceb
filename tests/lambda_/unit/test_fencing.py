"""Self-fencing (domain.fencing): stop an invocation before its unrenewed lease can expire."""

from __future__ import annotations

import pytest

from gureum.lambda_.domain.fencing import FencePolicy, must_fence, renewal_timeout

# The tests' cluster: --lease-ttl 3, renewed every second, a try given up after 0.5 s.
SHORT = FencePolicy.for_ttl(3.0, 1.0)
# The default: a 30 s TTL, renewed every second, a try given up after 5 s.
DEFAULT = FencePolicy.for_ttl(30.0, 1.0)


@pytest.mark.parametrize(
    ("ttl", "timeout"),
    [(3.0, 0.5), (30.0, 5.0), (300.0, 5.0), (0.6, 0.1)],
)
def test_a_renewal_try_gives_up_well_inside_the_ttl(ttl: float, timeout: float) -> None:
    assert renewal_timeout(ttl) == pytest.approx(timeout)


@pytest.mark.parametrize(
    ("policy", "renewed", "now", "fence"),
    [
        # Just renewed: nothing to do.
        (SHORT, 100.0, 100.0, False),
        # One try missed (it timed out 1.5 s after the last renewal): the next try would end at
        # 3.0 s, the expiry itself, leaving no room for the kill: fence now.
        (SHORT, 100.0, 101.5, True),
        # The margin's edge: 1.2 s after the renewal (1.2 + 1 + 0.5 + 0.3 = 3.0).
        (SHORT, 100.0, 101.19, False),
        (SHORT, 100.0, 101.2, True),
        # Default TTL: several missed tries are survived (a short Redis failover) ...
        (DEFAULT, 100.0, 110.0, False),
        (DEFAULT, 100.0, 120.99, False),
        # ... but not so many that the lease could run out before the fence acts.
        (DEFAULT, 100.0, 121.0, True),
        (DEFAULT, 100.0, 131.0, True),
        # A lease the ledger reported lost (it expired already): at once.
        (DEFAULT, float("-inf"), 100.0, True),
    ],
)
def test_must_fence(policy: FencePolicy, renewed: float, now: float, fence: bool) -> None:
    assert must_fence(policy, renewed, now) is fence
