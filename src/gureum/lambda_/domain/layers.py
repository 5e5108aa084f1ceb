"""Layers: immutable, numbered archives that functions mount at `/opt`.

Like function versions, layer version numbers only go up: deleting version 3 never lets a later
publish reuse 3.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gureum.lambda_.domain.arns import layer_arn
from gureum.lambda_.domain.functions import Code

MAX_LAYERS = 5


@dataclass(frozen=True, slots=True)
class LayerVersion:
    account: str
    region: str
    name: str
    version: int
    code: Code
    created: datetime
    description: str = ""
    compatible_runtimes: tuple[str, ...] = ()
    compatible_architectures: tuple[str, ...] = ()
    license_info: str | None = None

    @property
    def layer_arn(self) -> str:
        return layer_arn(self.region, self.account, self.name)

    @property
    def arn(self) -> str:
        return layer_arn(self.region, self.account, self.name, self.version)

    def compatible_with(self, runtime: str | None, architecture: str | None) -> bool:
        if runtime is not None and runtime not in self.compatible_runtimes:
            return False
        return not (architecture is not None and architecture not in self.compatible_architectures)
