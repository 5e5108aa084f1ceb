"""Python code is imported from bytecode gureum compiled as the version settled (issue 11, item 2).

The code directory is read-only to the function, so without it every cold start compiled the
handler module from source. The .pyc files are unchecked-hash ones (PEP 552): the test reads the
source hash each one carries to show it was made from the very source the function runs, so an
update of the code can never run stale bytecode. Tracebacks still name the file at /var/task.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.functions import invoke
from tests.support.packages import zip_of

MakeFunction = Callable[..., dict[str, Any]]

# Reports how the module was loaded: its .pyc (which the sandbox cannot have written: /var/task
# is read-only to it), the pyc's flags (PEP 552: 1 is an unchecked hash) and whether the hash it
# carries is that of the source beside it.
HANDLER = """
import importlib.util, os, sys

MARK = "{mark}"


def describe(path):
    cached = importlib.util.cache_from_source(path)
    if not os.path.exists(cached):
        return {{"cached": None}}
    with open(cached, "rb") as pyc, open(path, "rb") as source:
        header, text = pyc.read(16), source.read()
    return {{
        "cached": cached,
        "flags": int.from_bytes(header[4:8], "little"),
        "fresh": header[8:16] == importlib.util.source_hash(text),
    }}


def handler(event, context):
    if event.get("fail"):
        raise ValueError("from the handler")
    described = {{"mark": MARK, "file": __file__, "task": describe(__file__)}}
    if event.get("layer"):
        import helper

        described["layer"] = describe(helper.__file__)
    return described
"""
HERE = f"python3.{sys.version_info[1]}"  # the server's own Python (compiled in process)


def handler_zip(mark: str) -> bytes:
    return zip_of({"index.py": HANDLER.format(mark=mark)})


@pytest.mark.parametrize("runtime", ["python3.12", HERE])
def test_the_handler_is_imported_from_bytecode_gureum_compiled(
    lambda_client: Any, make_function: MakeFunction, function_name: str, runtime: str
) -> None:
    make_function(Runtime=runtime, Code={"ZipFile": handler_zip("one")})

    described = invoke(lambda_client, function_name, {}).json()

    tag = f"cpython-3{runtime.removeprefix('python3.')}"
    assert described["file"] == "/var/task/index.py"
    assert described["task"] == {
        "cached": f"/var/task/__pycache__/index.{tag}.pyc",
        "flags": 1,
        "fresh": True,
    }


def test_tracebacks_still_name_the_source_under_var_task(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    make_function(Code={"ZipFile": handler_zip("one")})

    failed = invoke(lambda_client, function_name, {"fail": True})

    assert failed.function_error == "Unhandled"
    trace = failed.json()["stackTrace"]
    assert any('File "/var/task/index.py", line' in line for line in trace), trace


def test_an_update_of_the_code_runs_fresh_bytecode(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    make_function(Code={"ZipFile": handler_zip("one")})
    assert invoke(lambda_client, function_name, {}).json()["mark"] == "one"

    lambda_client.update_function_code(FunctionName=function_name, ZipFile=handler_zip("two"))
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=function_name, WaiterConfig={"Delay": 0.1}
    )

    described = invoke(lambda_client, function_name, {}).json()
    assert described["mark"] == "two"
    assert described["task"]["flags"] == 1
    assert described["task"]["fresh"] is True


def test_layer_code_is_compiled_too(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    layer = lambda_client.publish_layer_version(
        LayerName=f"{function_name}-layer",
        Content={"ZipFile": zip_of({"python/helper.py": "VALUE = 1\n"})},
    )
    make_function(Code={"ZipFile": handler_zip("one")}, Layers=[layer["LayerVersionArn"]])

    described = invoke(lambda_client, function_name, {"layer": True}).json()

    assert described["layer"] == {
        "cached": "/opt/python/__pycache__/helper.cpython-312.pyc",
        "flags": 1,
        "fresh": True,
    }
