"""Put/GetFunctionRecursionConfig: a function's answer to a recursive loop (domain.recursion).

`Terminate` (AWS's default) stops a chain of invocations past the threshold; `Allow` lets it
run. The setting is the function's, for every version and alias, as on AWS; `Invoker` reads it
from the function record with each invocation.
"""

from __future__ import annotations

from dataclasses import replace

from gureum.lambda_.domain.arns import FunctionRef
from gureum.lambda_.domain.errors import InvalidParameterValue
from gureum.lambda_.domain.recursion import RecursiveLoop
from gureum.lambda_.services.context import Caller, Ports
from gureum.lambda_.services.functions import require_function


class RecursionConfigService:
    def __init__(self, ports: Ports) -> None:
        self._ports = ports

    def put(self, caller: Caller, ref: FunctionRef, value: str) -> str:
        _unqualified(ref)
        loop = RecursiveLoop(value)  # the model's enum was checked on the wire already
        with self._ports.store.transaction() as tx:
            function = require_function(tx, caller, ref.name)
            tx.put_function(replace(function, recursive_loop=loop.value))
        return loop.value

    def get(self, caller: Caller, ref: FunctionRef) -> str:
        _unqualified(ref)
        with self._ports.store.transaction() as tx:
            return require_function(tx, caller, ref.name).recursive_loop


def _unqualified(ref: FunctionRef) -> None:
    if ref.qualifier is not None:
        raise InvalidParameterValue(
            "This operation is permitted on Lambda functions only. Aliases and versions do not "
            "support this operation. Please specify either a function name or an unqualified "
            "function ARN."
        )
