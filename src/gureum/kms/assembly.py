"""KMS, built from the kernel: the key service (used by Lambda) and its endpoint."""

from __future__ import annotations

import os
from dataclasses import dataclass

from gureum.aws.frontend import ServiceEndpoint
from gureum.aws.kernel import Assembly, Kernel
from gureum.aws.protocols.json import JsonProtocol
from gureum.kms.api import KmsApi
from gureum.kms.services.keys import KeyService


@dataclass(eq=False)
class Kms(Assembly):
    keys: KeyService
    endpoint: ServiceEndpoint

    def close(self) -> None:
        self.keys.close()


def assemble(kernel: Kernel) -> Kms:
    settings = kernel.settings
    keys = KeyService(
        kernel.stores,
        # In the shared directory: every process of a cluster wraps under the same root key.
        settings.kms_root_key_file or settings.shared / "root.key",
        kernel.clock,
        settings.time_scale,
        environ=os.environ,  # GUREUM_ROOT_KEY: the root key itself, instead of a file
    )
    endpoint = ServiceEndpoint("kms", JsonProtocol(kernel.model("kms")), KmsApi(keys).handlers())
    return Kms(keys, endpoint)
