"""Hypothesis strategies for hostile requests: documents shaped by botocore's models, then bent.

Shared by the unit-level fuzzing of the codecs (tests/adversarial/test_fuzz.py) and the HTTP-level
fuzzing of the whole server (tests/adversarial/test_hostile_input.py).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import botocore.session
from botocore.model import OperationModel, Shape
from hypothesis import strategies as st

from gureum.aws.protocols.json import JsonProtocol
from gureum.aws.protocols.restjson import RestJsonProtocol
from gureum.aws.sigv4 import HttpRequest

SESSION = botocore.session.get_session()
Codec = RestJsonProtocol | JsonProtocol
LAMBDA = RestJsonProtocol(SESSION.get_service_model("lambda"), "application/json")
JSON_CODECS = {
    name: JsonProtocol(SESSION.get_service_model(name)) for name in ("sqs", "kms", "logs")
}

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.text(st.characters(exclude_categories=()), max_size=4)  # lone surrogates too
)
ANY_JSON: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def value_for(shape: Shape, depth: int) -> st.SearchStrategy[Any]:
    """Mostly what the shape wants, sometimes anything at all."""
    if depth > 4:
        return ANY_JSON
    kind = shape.type_name
    wanted: st.SearchStrategy[Any]
    if kind == "structure":
        members = {name: value_for(member, depth + 1) for name, member in shape.members.items()}
        wanted = st.fixed_dictionaries({}, optional=members)
    elif kind == "list":
        wanted = st.lists(value_for(shape.member, depth + 1), max_size=3)
    elif kind == "map":
        wanted = st.dictionaries(st.text(max_size=8), value_for(shape.value, depth + 1), max_size=3)
    elif kind in ("integer", "long"):
        wanted = st.integers(min_value=-(2**70), max_value=2**70)
    elif kind in ("float", "double"):
        wanted = st.floats()
    elif kind == "boolean":
        wanted = st.booleans()
    elif kind == "timestamp":
        wanted = st.floats() | st.integers() | st.text(max_size=30)
    elif kind == "blob":
        wanted = st.text(max_size=12)  # mostly not base64
    else:
        wanted = st.text(max_size=30)
    return st.one_of(wanted, wanted, ANY_JSON)


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@st.composite
def bodies(draw: st.DrawFn, shape: Shape | None) -> bytes:
    """A JSON body for `shape`, possibly damaged on the way."""
    document = draw(value_for(shape, 0)) if shape is not None else draw(ANY_JSON)
    text = json.dumps(document)  # NaN and Infinity included, as Python writes them
    body = text.encode("utf-8", "surrogatepass")
    damage = draw(st.sampled_from(["none", "none", "truncate", "flip", "nest", "bytes", "digits"]))
    if damage == "truncate" and body:
        body = body[: draw(st.integers(0, len(body) - 1))]
    elif damage == "flip" and body:
        at = draw(st.integers(0, len(body) - 1))
        body = body[:at] + bytes([draw(st.integers(0x80, 0xFF))]) + body[at + 1 :]
    elif damage == "nest":
        body = b'{"x": ' + nested(draw(st.sampled_from([999, 1001, 5000, 100_000]))) + b"}"
    elif damage == "bytes":
        body = draw(st.binary(max_size=64))
    elif damage == "digits":
        body = b'{"x": ' + b"9" * draw(st.sampled_from([1001, 4301, 20_000])) + b"}"
    return body


def operations(codec: Codec) -> list[OperationModel]:
    return [codec.model.operation_model(name) for name in sorted(codec.model.operation_names)]


def rest_request(data: st.DataObject, operation: OperationModel, body: bytes) -> HttpRequest:
    """A request on the operation's own URI; labels, query and header members hold any text."""
    path, _, query = operation.http["requestUri"].partition("?")
    for label in [part.split("}")[0] for part in path.split("{")[1:]]:
        text = data.draw(st.text(min_size=1, max_size=12))
        path = path.replace("{" + label + "}", quote(text, safe=""))
    headers: list[tuple[str, str]] = []
    shape = operation.input_shape
    for name, member in shape.members.items() if shape is not None else []:
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        value = data.draw(st.none() | st.text(st.characters(max_codepoint=255), max_size=12))
        if value is None:
            continue
        if location == "header":
            headers.append((wire_name, value))
        elif location == "querystring":
            query += f"&{quote(wire_name)}={quote(value, safe='')}"
    return HttpRequest(operation.http["method"], path, query.lstrip("&"), headers, body)
