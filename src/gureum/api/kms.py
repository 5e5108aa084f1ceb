"""KMS operations (skeleton: being implemented)."""

from __future__ import annotations

from collections.abc import Mapping

from gureum.aws.frontend import Handler
from gureum.services.keys import KeyService


class KmsApi:
    def __init__(self, keys: KeyService) -> None:
        self._keys = keys

    def handlers(self) -> Mapping[str, Handler]:
        return {}
