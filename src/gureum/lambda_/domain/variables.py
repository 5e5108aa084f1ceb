"""Environment variable rules (spec 3.1, 3.2): reserved keys and the 4 KB aggregate limit."""

from __future__ import annotations

import json
from collections.abc import Mapping

from gureum.lambda_.domain.errors import InvalidParameterValue

SIZE_LIMIT = 4096

# Keys the runtime sets itself; AWS refuses them in a function's configuration (spec 3.2).
RESERVED_KEYS = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
        "AWS_LAMBDA_MAX_CONCURRENCY",
    }
)

_PREFIX = "Lambda was unable to configure your environment variables because the environment "


def check_variables(variables: Mapping[str, str]) -> None:
    reserved = [key for key in variables if key in RESERVED_KEYS]
    if reserved:
        raise InvalidParameterValue(
            _PREFIX + "variables you have provided contains reserved keys that are currently not "
            f"supported for modification. Reserved keys used in this request: {', '.join(reserved)}"
        )
    measured = json.dumps(dict(variables), separators=(",", ":"), ensure_ascii=False)
    if len(measured.encode()) > SIZE_LIMIT:
        raise InvalidParameterValue(
            _PREFIX + "variables you have provided exceeded the 4KB limit. "
            f"String measured: {measured}"
        )
