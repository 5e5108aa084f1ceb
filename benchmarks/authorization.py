"""What `--iam enforce` adds to a request: the front door's authorizer on its warm path, in
process (issue 14: under 50 us at the median, with decisions cached per principal and policy
revision).

    python -m benchmarks.authorization

The authorizer runs over a real IAM store (SQLite, in a temporary directory) for an IAM user
with an inline and an attached policy, and over a function policy (a resource policy with a
revision, as Lambda's `PermissionService` hands it over). Each sample is one `authorize` call as
the front door makes it for an Invoke: the action and resource placed from the request's members,
the resource policy looked up, the decision taken (from the cache once warm). `cold` evaluates
afresh each time (the cache emptied by a change to IAM's store before each call) for contrast.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from gureum.aws.authorization import ResourcePolicy
from gureum.aws.frontend import CallContext
from gureum.aws.policy import read_policy
from gureum.aws.sql import SqliteBackend
from gureum.clock import SystemClock
from gureum.iam.domain.entities import Holder
from gureum.iam.services.authorizer import Authorizer
from gureum.iam.services.holders import PolicyHolders
from gureum.iam.services.policies import PolicyService
from gureum.iam.services.principals import Principals
from gureum.iam.services.users import UserService
from gureum.iam.store.records import IamStore

ACCOUNT, REGION = "000000000000", "us-east-1"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:bench"


def _policy(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


class FunctionPolicies:
    """A function's policy, as Lambda's permission service answers the authorizer."""

    def __init__(self) -> None:
        document = {
            "Version": "2012-10-17",
            "Id": "default",
            "Statement": [
                {
                    "Sid": "sns",
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "lambda:InvokeFunction",
                    "Resource": FUNCTION,
                    "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:sns:*:*:topic"}},
                }
            ],
        }
        self._found = ResourcePolicy("5c4f8f0e-0000-4000-8000-000000000000", read_policy(document))

    def resource_policy(self, resource: str) -> ResourcePolicy | None:
        return self._found if resource.startswith(FUNCTION) else None


def _samples(
    call: Callable[[], None], count: int, before: Callable[[], None] | None
) -> list[float]:
    found: list[float] = []
    for _ in range(count):
        if before is not None:
            before()
        start = time.perf_counter_ns()
        call()
        found.append((time.perf_counter_ns() - start) / 1000)
    return sorted(found)


def measure(count: int = 20_000) -> dict[str, float]:
    """Median and p99 microseconds of one authorization, warm (cached) and cold (evaluated)."""
    with tempfile.TemporaryDirectory(prefix="gureum-authz-") as directory:
        store = IamStore(SqliteBackend(Path(directory)))
        try:
            clock = SystemClock()
            user = UserService(store, clock).create(ACCOUNT, {"UserName": "bench"})
            holders = PolicyHolders(store)
            holders.put_inline(
                ACCOUNT,
                Holder.USER,
                "bench",
                "invoke",
                _policy({"Effect": "Allow", "Action": "lambda:Invoke*", "Resource": "*"}),
            )
            managed = PolicyService(store, clock).create(
                ACCOUNT,
                {
                    "PolicyName": "deny-delete",
                    "PolicyDocument": _policy(
                        {"Effect": "Deny", "Action": "lambda:Delete*", "Resource": "*"}
                    ),
                },
            )
            holders.attach(ACCOUNT, Holder.USER, "bench", managed.arn)
            authorizer = Authorizer(store, Principals(store))
            authorizer.add_resource_policies("lambda", FunctionPolicies())
            context = CallContext(
                ACCOUNT, REGION, "r", "http://x", "Invoke", user.arn, user.user_id
            )
            params = {"FunctionName": "bench", "Payload": b"{}"}

            def call() -> None:
                authorizer.authorize("lambda", "Invoke", context, params)

            def forget() -> None:  # a write to IAM's store: every cached decision goes
                holders.put_inline(
                    ACCOUNT,
                    Holder.USER,
                    "bench",
                    "noise",
                    _policy({"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}),
                )

            call()
            warm = _samples(call, count, None)
            cold = _samples(call, max(count // 100, 50), forget)
        finally:
            store.close()
    return {
        "warm_p50": warm[len(warm) // 2],
        "warm_p99": warm[int(len(warm) * 0.99)],
        "cold_p50": cold[len(cold) // 2],
    }


def main() -> None:
    found = measure()
    print(
        f"authorization per request: warm p50 {found['warm_p50']:.1f} us, "
        f"p99 {found['warm_p99']:.1f} us; evaluated afresh p50 {found['cold_p50']:.1f} us"
    )


if __name__ == "__main__":
    main()
