"""A process of its own that admits invocations through the Redis ledger and holds the leases
(the cross-process tests of `tests/lambda_/service/test_redis_ledger.py`).

    python -m tests.support.ledger_worker URL PREFIX TTL ACCOUNT REGION FUNCTION ATTEMPTS

Prints one JSON line, {"granted": n, "refused": [reasons]}, then renews its leases until a line
arrives on stdin, gives them back and prints "released" (or until it is killed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys

from gureum.lambda_.domain.concurrency import Lease, Limits
from gureum.lambda_.domain.errors import TooManyRequests
from gureum.lambda_.store.redis_ledger import RedisLedger


async def main(argv: list[str]) -> None:
    url, prefix, ttl, account, region, function, attempts = argv
    ledger = RedisLedger(url, Limits(), prefix=prefix, ttl=float(ttl))
    scope = (account, region)
    leases: list[Lease] = []
    refused: list[str] = []
    for _ in range(int(attempts)):
        try:
            leases.append(await ledger.admit(scope, function, 0.0, 0.0))
        except TooManyRequests as error:
            refused.append(str(error.fields["Reason"]))
    print(json.dumps({"granted": len(leases), "refused": refused}), flush=True)

    async def keep() -> None:
        while True:
            await asyncio.sleep(ledger.keep_interval)
            await ledger.keep()

    keeper = asyncio.create_task(keep())
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    keeper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await keeper
    for lease in leases:
        await ledger.release(lease)
    await ledger.close()
    print("released", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
