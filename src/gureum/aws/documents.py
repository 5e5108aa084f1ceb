"""JSON documents read the way AWS reads them, or refused with the reason AWS's parser gives.

Every JSON that reaches gureum from outside goes through `read_document`: Lambda's request bodies,
the json-protocol bodies of SQS, KMS and Logs, and Invoke payloads. AWS reads them with Jackson
(2.16 or later: its error locations say "REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION`
disabled)", spec 10.6), whose default `StreamReadConstraints` cap a document at 1000 levels of
nesting and a number at 1000 characters, and which refuses `NaN` and `Infinity`. Python's own
parser has none of those limits and instead fails in ways of its own: `RecursionError` past the
interpreter's stack budget, `ValueError` past 4300 integer digits. Here every failure, of either
kind, becomes one `UnreadableDocument` whose reason is Jackson's text, so each protocol only
decides which AWS error carries it.

Pure: no I/O, no globals beyond constant tables.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

# Jackson's StreamReadConstraints defaults (DEFAULT_MAX_DEPTH, DEFAULT_MAX_NUM_LEN).
MAX_NESTING_DEPTH = 1000
MAX_NUMBER_LENGTH = 1000

# A string literal, escapes included; one left open runs to the end of the text, so that text
# that is not JSON at all is still scanned in one linear pass (no backtracking from every quote).
_STRING = re.compile(r'"(?:[^"\\]++|\\.?)*+(?:"|\Z)', re.DOTALL)
_NOT_BRACKET = bytes(byte for byte in range(256) if byte not in b"[]{}")
_STEP = [0] * 256
for _open in b"[{":
    _STEP[_open] = 1
for _close in b"]}":
    _STEP[_close] = -1
# Numbers longer than AWS reads are looked for only where the text has a run of number
# characters that long (a table lookup and a substring search: a regular expression would take
# a second over a 70 MB CreateFunction body); only then is each number parsed by hand.
_NUMBER_CHARACTERS = bytes.maketrans(b"123456789.eE+-", b"0" * 14)
_LONG_NUMBER = b"0" * (MAX_NUMBER_LENGTH + 1)
_NON_NUMERIC = "enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"


class UnreadableDocument(ValueError):
    """Bytes that are not a JSON document AWS would read; `reason` is Jackson's wording."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_document(data: bytes | str) -> Any:
    """The JSON value in `data` (UTF-8), or UnreadableDocument saying why there is none."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    text = _decode(data) if isinstance(data, bytes) else data
    # A document nested past the limit is refused as Jackson refuses it, whatever Python's
    # parser would make of it (it gives up earlier or later depending on the interpreter).
    if raw.count(b"[") + raw.count(b"{") > MAX_NESTING_DEPTH:
        depth = nesting_depth(text)
        if depth > MAX_NESTING_DEPTH:
            raise UnreadableDocument(
                f"Document nesting depth ({MAX_NESTING_DEPTH + 1}) exceeds the maximum allowed "
                f"({MAX_NESTING_DEPTH}, from `StreamReadConstraints.getMaxNestingDepth()`)"
            )
    careful = _LONG_NUMBER in raw.translate(_NUMBER_CHARACTERS)
    try:
        if careful:
            return json.loads(
                text, parse_constant=_non_numeric, parse_int=_integer, parse_float=_real
            )
        return json.loads(text, parse_constant=_non_numeric)
    except UnreadableDocument:
        raise
    except json.JSONDecodeError as exc:
        raise UnreadableDocument(str(exc)) from None
    except RecursionError:
        # Within the limit, yet deeper than this interpreter's stack lets its parser go.
        raise UnreadableDocument(
            f"Document nesting depth ({nesting_depth(text)}) is more than gureum can read"
        ) from None
    except (ValueError, OverflowError) as exc:  # what any other parser surprise looks like
        raise UnreadableDocument(f"Unreadable JSON value: {type(exc).__name__}") from None


def nesting_depth(text: str) -> int:
    """How deeply arrays and objects nest in `text` (string contents ignored); linear time."""
    brackets = _STRING.sub("", text).encode("utf-8", "surrogatepass").translate(None, _NOT_BRACKET)
    if not brackets:
        return 0
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets)))


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        kind = "start" if exc.reason == "invalid start byte" else "middle"
        if exc.reason == "unexpected end of data":
            raise UnreadableDocument(
                "Unexpected end-of-input in the middle of a UTF-8 character"
            ) from None
        raise UnreadableDocument(f"Invalid UTF-8 {kind} byte 0x{data[exc.start]:02x}") from None
    return text.removeprefix("\ufeff")  # a byte-order mark, which Jackson skips


def _non_numeric(token: str) -> Any:
    # Python reads NaN and Infinity; Jackson does not. A NaN would also pass every range check
    # (all comparisons with NaN are false) and be stored.
    raise UnreadableDocument(f"Non-standard token '{token}': {_NON_NUMERIC}")


def _integer(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_NUMBER_LENGTH:
        raise UnreadableDocument(_number_too_long(digits))
    return int(text)


def _real(text: str) -> float:
    if len(text) > MAX_NUMBER_LENGTH:
        raise UnreadableDocument(_number_too_long(len(text)))
    return float(text)


def _number_too_long(length: int) -> str:
    return (
        f"Number value length ({length}) exceeds the maximum allowed ({MAX_NUMBER_LENGTH}, "
        "from `StreamReadConstraints.getMaxNumberLength()`)"
    )
