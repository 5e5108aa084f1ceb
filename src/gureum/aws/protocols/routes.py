"""Requests matched to operations by the HTTP bindings of botocore's model (rest-json, rest-xml).

Both REST protocols bind an operation to a method and a `requestUri` template
(`/2015-03-31/functions/{FunctionName}`, `/{Bucket}/{Key+}?uploads`); the body format is all that
differs. One table serves the rest-json codec and names the operation of a request for a REST
service gureum does not serve.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from botocore.model import OperationModel, ServiceModel

from gureum.aws.errors import UnknownOperation
from gureum.aws.http import header, query_params
from gureum.aws.sigv4 import HttpRequest


@dataclass(frozen=True, slots=True)
class Routed:
    """An operation matched to a request, with its decoded path parameters."""

    operation: OperationModel
    path_params: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class _Route:
    operation: OperationModel
    pattern: re.Pattern[str]
    fixed_query: tuple[tuple[str, str], ...]
    # Headers the operation requires: S3's CopyObject is PutObject's route plus
    # `x-amz-copy-source`. (Lambda requires none.)
    required_headers: tuple[str, ...]
    # Query parameters the operation requires, when the table routes by them: S3's UploadPart
    # is PutObject's route plus `partNumber` and `uploadId`.
    required_query: tuple[str, ...]
    weight: tuple[int, int, int, int]


def _compile(operation: OperationModel, by_query: bool) -> _Route:
    uri: str = operation.http["requestUri"]
    path, _, fixed = uri.partition("?")
    regex = ""
    literal = 0
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{"):
            name = part[1:-1]
            greedy = name.endswith("+")
            name = name.rstrip("+")
            regex += f"(?P<{name}>.+)" if greedy else f"(?P<{name}>[^/]+)"
        else:
            regex += re.escape(part)
            literal += len(part)
    fixed_query = tuple((k, v) for k, v in query_params(fixed))
    pattern = re.compile(regex.rstrip("/") + "/?")
    shape = operation.input_shape
    required_members = shape.required_members if shape is not None else ()

    def located(where: str) -> tuple[str, ...]:
        assert shape is not None
        return tuple(
            shape.members[name].serialization.get("name", name)
            for name in required_members
            if shape.members[name].serialization.get("location") == where
        )

    required = located("header")
    query = located("querystring") if by_query else ()
    # Last, an operation the model deprecates yields to its successor on the same route (S3's
    # PutBucketNotification to PutBucketNotificationConfiguration).
    current = 0 if operation.deprecated else 1
    weight = (len(fixed_query), len(required) + len(query), literal, current)
    return _Route(operation, pattern, fixed_query, required, query, weight)


class RouteTable:
    """Every operation of one REST service, most specific route first: more fixed query
    parameters, then more required headers, then more literal path characters
    (`/functions/{F}/aliases` before `/functions/{F}`).

    `by_query`: required query parameters tell routes apart too (S3, whose multipart operations
    share their path and method with the object's); otherwise a request that lacks one still
    routes, and is refused by validation with the parameter's name (Lambda)."""

    def __init__(self, model: ServiceModel, by_query: bool = False) -> None:
        routes: dict[str, list[_Route]] = {}
        for name in model.operation_names:
            operation = model.operation_model(name)
            routes.setdefault(operation.http["method"], []).append(_compile(operation, by_query))
        for table in routes.values():
            table.sort(key=lambda route: route.weight, reverse=True)
        self._routes = routes

    def route(self, request: HttpRequest) -> Routed:
        query = query_params(request.raw_query)
        for route in self._routes.get(request.method, ()):
            match = route.pattern.fullmatch(request.raw_path)
            if match is None or any(pair not in query for pair in route.fixed_query):
                continue
            if any(header(request.headers, name) is None for name in route.required_headers):
                continue
            if route.required_query and not set(route.required_query) <= {k for k, _ in query}:
                continue
            params = {k: unquote(v) for k, v in match.groupdict().items()}
            return Routed(route.operation, params)
        raise UnknownOperation(f"Unknown operation {request.method} {request.raw_path}")
