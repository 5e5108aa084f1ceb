"""CloudWatch Logs operations over gureum's log store: what `aws logs` and log tailers use.

DescribeLogGroups, DescribeLogStreams, GetLogEvents and FilterLogEvents read the groups and
streams execution environments write; CreateLogGroup, CreateLogStream and PutLogEvents let
anything else (a function using the SDK, a test) write beside them; DeleteLogGroup removes one.
Pagination tokens are positions in the ordered results.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from gureum.aws.errors import ClientError
from gureum.aws.frontend import CallContext, Handler
from gureum.logs.domain.events import LogEvent
from gureum.logs.store.ports import LogStore

Params = dict[str, Any]
Result = dict[str, Any]
DEFAULT_LIMIT = 10_000


class LogsResourceNotFound(ClientError):
    code = "ResourceNotFoundException"


class LogsInvalidParameter(ClientError):
    code = "InvalidParameterException"


def _position(token: str | None, prefix: str = "") -> int:
    if token is None:
        return 0
    digits = token.removeprefix(prefix)
    if not digits.isdigit():
        raise LogsInvalidParameter("The specified nextToken is invalid.")
    return int(digits)


def matches(pattern: str, message: str) -> bool:
    """CloudWatch's term patterns: every term must occur; `"quoted phrases"`; `?a ?b` any of."""
    pattern = pattern.strip()
    if not pattern or pattern in ('""', "''"):
        return True
    try:
        terms = shlex.split(pattern)
    except ValueError:
        terms = pattern.split()
    optional = [t[1:] for t in terms if t.startswith("?")]
    required = [t for t in terms if not t.startswith("?")]
    if optional and not any(term in message for term in optional):
        return False
    for term in required:
        if term.startswith("-"):
            if term[1:] in message:
                return False
        elif term not in message:
            return False
    return True


class LogsApi:
    def __init__(self, store: LogStore) -> None:
        self._store = store

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "DescribeLogGroups": self.describe_log_groups,
            "DescribeLogStreams": self.describe_log_streams,
            "GetLogEvents": self.get_log_events,
            "FilterLogEvents": self.filter_log_events,
            "CreateLogGroup": self.create_log_group,
            "CreateLogStream": self.create_log_stream,
            "PutLogEvents": self.put_log_events,
            "DeleteLogGroup": self.delete_log_group,
        }

    @staticmethod
    def _group_name(params: Params) -> str:
        name = params.get("logGroupName") or params.get("logGroupIdentifier")
        if not name:
            raise LogsInvalidParameter("Either logGroupName or logGroupIdentifier is required.")
        return str(name).rsplit(":log-group:", 1)[-1].removesuffix(":*")

    def _require_group(self, ctx: CallContext, group: str) -> None:
        if not self._store.has_group(ctx.account_id, ctx.region, group):
            raise LogsResourceNotFound("The specified log group does not exist.")

    def _group_arn(self, ctx: CallContext, group: str) -> str:
        return f"arn:aws:logs:{ctx.region}:{ctx.account_id}:log-group:{group}"

    def describe_log_groups(self, ctx: CallContext, params: Params) -> Result:
        prefix = params.get("logGroupNamePrefix", "")
        pattern = params.get("logGroupNamePattern")
        groups = [
            (name, created)
            for name, created in self._store.groups(ctx.account_id, ctx.region)
            if name.startswith(prefix) and (pattern is None or pattern in name)
        ]
        start = _position(params.get("nextToken"))
        limit = params.get("limit", 50)
        page = groups[start : start + limit]
        result: Result = {
            "logGroups": [
                {
                    "logGroupName": name,
                    "creationTime": created,
                    "metricFilterCount": 0,
                    "arn": self._group_arn(ctx, name) + ":*",
                    "logGroupArn": self._group_arn(ctx, name),
                    "storedBytes": 0,
                    "logGroupClass": "STANDARD",
                }
                for name, created in page
            ]
        }
        if start + limit < len(groups):
            result["nextToken"] = str(start + limit)
        return result

    def describe_log_streams(self, ctx: CallContext, params: Params) -> Result:
        group = self._group_name(params)
        self._require_group(ctx, group)
        prefix = params.get("logStreamNamePrefix", "")
        streams = [
            s
            for s in self._store.streams(ctx.account_id, ctx.region, group)
            if s[0].startswith(prefix)
        ]
        if params.get("orderBy") == "LastEventTime":
            streams.sort(key=lambda s: s[2])
        if params.get("descending"):
            streams.reverse()
        start = _position(params.get("nextToken"))
        limit = params.get("limit", 50)
        page = streams[start : start + limit]
        result: Result = {
            "logStreams": [
                {
                    "logStreamName": name,
                    "creationTime": first,
                    "firstEventTimestamp": first,
                    "lastEventTimestamp": last,
                    "lastIngestionTime": last,
                    "arn": f"{self._group_arn(ctx, group)}:log-stream:{name}",
                    "storedBytes": 0,
                }
                for name, first, last, _ in page
            ]
        }
        if start + limit < len(streams):
            result["nextToken"] = str(start + limit)
        return result

    def _require_stream(self, ctx: CallContext, group: str, stream: str) -> None:
        self._require_group(ctx, group)
        if not self._store.has_stream(ctx.account_id, ctx.region, group, stream):
            raise LogsResourceNotFound("The specified log stream does not exist.")

    def get_log_events(self, ctx: CallContext, params: Params) -> Result:
        group = self._group_name(params)
        stream = params["logStreamName"]
        # AWS answers a stream that is not there with an error, never an empty page: a reader
        # polling a misspelt name would otherwise wait forever for events.
        self._require_stream(ctx, group, stream)
        events = self._in_window(
            self._store.events(ctx.account_id, ctx.region, group, stream), params
        )
        limit = params.get("limit", DEFAULT_LIMIT)
        token = params.get("nextToken")
        if token is not None and token.startswith("b/"):
            end = _position(token, "b/")
            start = max(end - limit, 0)
        elif token is not None:
            start = _position(token, "f/")
            end = min(start + limit, len(events))
        elif params.get("startFromHead"):
            start, end = 0, min(limit, len(events))
        else:
            end = len(events)
            start = max(end - limit, 0)
        return {
            "events": [self._event(e) for e in events[start:end]],
            "nextForwardToken": f"f/{end:056d}",
            "nextBackwardToken": f"b/{start:056d}",
        }

    def filter_log_events(self, ctx: CallContext, params: Params) -> Result:
        group = self._group_name(params)
        self._require_group(ctx, group)
        names = params.get("logStreamNames")
        prefix = params.get("logStreamNamePrefix", "")
        streams = [
            s[0]
            for s in self._store.streams(ctx.account_id, ctx.region, group)
            if (names is None or s[0] in names) and s[0].startswith(prefix)
        ]
        pattern = params.get("filterPattern", "")
        found: list[tuple[LogEvent, str, int]] = []
        for stream in streams:
            events = self._store.events(ctx.account_id, ctx.region, group, stream)
            found += [(e, stream, i) for i, e in enumerate(events) if matches(pattern, e.message)]
        found = [f for f in found if self._within(f[0], params)]
        found.sort(key=lambda f: (f[0].timestamp, f[1], f[2]))
        start = _position(params.get("nextToken"))
        limit = params.get("limit", DEFAULT_LIMIT)
        page = found[start : start + limit]
        result: Result = {
            "events": [
                {
                    **self._event(event),
                    "logStreamName": stream,
                    "eventId": f"{event.timestamp}-{stream}-{index}",
                }
                for event, stream, index in page
            ],
            "searchedLogStreams": [
                {"logStreamName": stream, "searchedCompletely": True} for stream in streams
            ],
        }
        if start + limit < len(found):
            result["nextToken"] = str(start + limit)
        return result

    @staticmethod
    def _within(event: LogEvent, params: Params) -> bool:
        start, end = params.get("startTime"), params.get("endTime")
        return (start is None or event.timestamp >= start) and (
            end is None or event.timestamp <= end
        )

    def _in_window(self, events: list[LogEvent], params: Params) -> list[LogEvent]:
        return [e for e in events if self._within(e, params)]

    @staticmethod
    def _event(event: LogEvent) -> dict[str, Any]:
        return {
            "timestamp": event.timestamp,
            "message": event.message,
            "ingestionTime": event.ingested,
        }

    def create_log_group(self, ctx: CallContext, params: Params) -> Result:
        group = params["logGroupName"]
        if self._store.has_group(ctx.account_id, ctx.region, group):
            raise ResourceAlreadyExists("The specified log group already exists")
        self._store.create_group(ctx.account_id, ctx.region, group)
        return {}

    def create_log_stream(self, ctx: CallContext, params: Params) -> Result:
        group = params["logGroupName"]
        self._require_group(ctx, group)
        if self._store.has_stream(ctx.account_id, ctx.region, group, params["logStreamName"]):
            raise ResourceAlreadyExists("The specified log stream already exists")
        self._store.append(
            ctx.account_id, ctx.region, group, params["logStreamName"], [], create=True
        )
        return {}

    def put_log_events(self, ctx: CallContext, params: Params) -> Result:
        group = params["logGroupName"]
        self._require_stream(ctx, group, params["logStreamName"])
        events = [LogEvent(int(e["timestamp"]), str(e["message"])) for e in params["logEvents"]]
        self._store.append(ctx.account_id, ctx.region, group, params["logStreamName"], events)
        return {}

    def delete_log_group(self, ctx: CallContext, params: Params) -> Result:
        group = params["logGroupName"]
        self._require_group(ctx, group)
        self._store.delete_group(ctx.account_id, ctx.region, group)
        return {}


class ResourceAlreadyExists(ClientError):
    code = "ResourceAlreadyExistsException"
