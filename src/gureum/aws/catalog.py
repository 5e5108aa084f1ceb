"""Every service botocore models, found by the signing name of a SigV4 credential scope, so that a
request for one gureum does not serve is refused in that service's own protocol.

The scope names the service as it signs (`monitoring` for CloudWatch, `ses` for SES and SES v2,
`dynamodb` for DynamoDB and DynamoDB Streams), not as botocore names it; the models' metadata
(`signingName`, else `endpointPrefix`) says which services sign so. Where several do, the one
whose protocol names an operation in the request is the one the caller uses.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import botocore

from gureum.aws.errors import AwsError, UnknownOperation, UnservedService
from gureum.aws.models import ServiceModels
from gureum.aws.protocols.dialects import Dialect, ErrorCodec
from gureum.aws.protocols.json import JsonErrors
from gureum.aws.sigv4 import HttpRequest


@dataclass(frozen=True, slots=True)
class Refusal:
    """What to answer a request for a service gureum does not serve, and in which protocol."""

    errors: ErrorCodec
    error: AwsError


class ServiceCatalog:
    """botocore's models by signing name. Reading every model's metadata takes seconds, so it
    happens once, on the first request no quicker look answers: a service whose botocore name is
    its signing name (ec2, s3, iam, sts, dynamodb) is found without it. Blocking: call it from a
    worker thread."""

    def __init__(self, models: ServiceModels) -> None:
        self._models = models
        self._loader: Any = models.loader
        self._dialects: dict[str, Dialect] = {}
        self._signers: Mapping[str, tuple[str, ...]] | None = None
        self._lock = threading.Lock()

    def refusal(self, signing_name: str, request: HttpRequest) -> Refusal:
        """The answer to `request`, signed for `signing_name`, which gureum does not serve."""
        named = self._named(signing_name)
        if named is not None:
            found = self._spoken_by(named, request)
            if found is not None:
                return found
        candidates = self._index().get(signing_name, ())
        for name in candidates:
            found = self._spoken_by(name, request)
            if found is not None:
                return found
        if not candidates:
            return Refusal(
                JsonErrors(None),
                UnknownOperation(
                    f"gureum does not serve '{signing_name}', and botocore "
                    f"{botocore.__version__} knows no service that signs requests as "
                    f"'{signing_name}'."
                ),
            )
        # No operation of theirs: the first by name (the one named like its signing name).
        dialect = self._dialect(candidates[0])
        protocol = dialect.protocol_of(request)
        message = f"gureum does not serve the {candidates[0]} service yet."
        return Refusal(dialect.errors(protocol), UnservedService(message))

    def _spoken_by(self, name: str, request: HttpRequest) -> Refusal | None:
        dialect = self._dialect(name)
        protocol = dialect.protocol_of(request)
        operation = dialect.operation_of(request, protocol)
        if operation is None:
            return None
        message = f"gureum does not serve the {name} service (operation {operation}) yet."
        return Refusal(dialect.errors(protocol), UnservedService(message))

    def _named(self, signing_name: str) -> str | None:
        """The service botocore names like `signing_name`, if it also signs as that."""
        if signing_name not in self._loader.list_available_services("service-2"):
            return None
        if self._dialect(signing_name).model.signing_name != signing_name:
            return None
        return signing_name

    def _dialect(self, name: str) -> Dialect:
        dialect = self._dialects.get(name)
        if dialect is None:
            dialect = Dialect(self._models.get_service_model(name))
            self._dialects[name] = dialect
        return dialect

    def _index(self) -> Mapping[str, tuple[str, ...]]:
        with self._lock:
            if self._signers is None:
                self._signers = self._read_index()
            return self._signers

    def _read_index(self) -> Mapping[str, tuple[str, ...]]:
        signers: dict[str, list[str]] = {}
        for name in self._loader.list_available_services("service-2"):
            metadata = self._metadata(name)
            signer = metadata.get("signingName") or metadata.get("endpointPrefix")
            if signer:
                signers.setdefault(signer, []).append(name)
        # The service named like its signing name first, then by name.
        return {
            signer: tuple(sorted(names, key=lambda name: (name != signer, name)))
            for signer, names in signers.items()
        }

    def _metadata(self, name: str) -> Mapping[str, Any]:
        """A model's metadata, read straight from its file: the loader's own methods keep every
        model they read in memory, hundreds of megabytes for all of them."""
        version = self._loader.determine_latest_version(name, "service-2")
        for root in self._loader.search_paths:
            found = self._loader.file_loader.load_file(
                os.path.join(root, name, version, "service-2")
            )
            if found is not None:
                metadata: Mapping[str, Any] = found.get("metadata", {})
                return metadata
        return {}
