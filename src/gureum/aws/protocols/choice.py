"""One served service, several protocols: the codec each request is in.

botocore lists a service's protocols in its order of preference (CloudWatch:
`smithy-rpc-v2-cbor`, `json`, `query`); boto3 and the AWS CLI send the first they support, older
SDKs the ones before it, and every request must be answered (errors too) in the protocol it came
in. The request's own marks tell them apart, as `Dialect.protocol_of` reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

from botocore.model import ServiceModel

from gureum.aws.protocols.dialects import Dialect
from gureum.aws.sigv4 import HttpRequest

Codec = TypeVar("Codec")


class ProtocolChoice(Generic[Codec]):
    """Picks, for each request, the codec of the protocol it speaks; `default` when its marks
    name none of them (a request so malformed it names nothing is answered in that one)."""

    def __init__(self, model: ServiceModel, codecs: Mapping[str, Codec], default: str) -> None:
        self._dialect = Dialect(model)
        self._codecs = codecs
        self.default = codecs[default]

    def __call__(self, request: HttpRequest) -> Codec:
        return self._codecs.get(self._dialect.protocol_of(request), self.default)
