"""The console in a real browser (headless Chromium): sign-in, the functions page, an invoke, a
throttle on the live dashboard, a canary alias's split and a dead-letter redrive.

One browser and one server for the whole module (a browser takes seconds to start). Screenshots
of each page land in the run's temporary directory (`artefacts/`), never in the checkout.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.aws import ROLE
from tests.support.browser import Browser
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

pytestmark = pytest.mark.slow
ECHO = "def handler(event, context):\n    return {'echo': event}\n"
SLOW = "import time\ndef handler(event, context):\n    time.sleep(1.5)\n    return 'done'\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    process = GureumProcess(tmp_path_factory.mktemp("console") / "data").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    started = Browser.start(tmp_path_factory.mktemp("artefacts"))
    if isinstance(started, str):
        pytest.skip(started)
    yield started
    started.quit()


@pytest.fixture(scope="module")
def signed_in(browser: Browser, server: GureumProcess) -> Browser:
    sign_in(browser, server, "test", "test")
    browser.wait_for(lambda: "/functions" in browser.current_url)
    return browser


def sign_in(browser: Browser, server: GureumProcess, key: str, secret: str) -> None:
    browser.get(f"{server.url}/_gureum/console/sign-in")
    browser.find("input[name=access_key_id]").type(key)
    browser.find("input[name=secret_access_key]").type(secret)
    browser.find("#sign-in").click()


def create(client: Any, name: str, source: str = ECHO, **extra: Any) -> None:
    client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": zip_of({"index.py": source})},
        **extra,
    )
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})


def test_a_wrong_secret_is_refused(browser: Browser, server: GureumProcess) -> None:
    sign_in(browser, server, "test", "not-the-secret")
    error = browser.wait_for(lambda: browser.find(".error").text)
    assert error == "Your authentication information is incorrect. Please try again."
    assert browser.current_url.endswith("/sign-in")
    browser.screenshot("sign-in-refused")
    browser.get(f"{server.url}/_gureum/console/functions")  # no session: back to sign-in
    assert browser.current_url.endswith("/sign-in")


def test_the_functions_page_lists_a_function_created_with_boto3(
    signed_in: Browser, server: GureumProcess
) -> None:
    create(server.client(), "listed-fn", MemorySize=256)
    signed_in.get(f"{server.url}/_gureum/console/functions")
    row = signed_in.wait_for(
        lambda: next(
            (
                r.text
                for r in signed_in.find_all("#functions tbody tr")
                if r.text.startswith("listed-fn")
            ),
            None,
        )
    )
    assert row.split()[:4] == ["listed-fn", "python3.12", "Active", "256"]
    signed_in.screenshot("functions")
    # Filtering hides the rows that do not match; sorting by name puts them in order.
    create(server.client(), "another-fn")
    signed_in.get(f"{server.url}/_gureum/console/functions")
    signed_in.find("input.filter").type("listed")
    shown = signed_in.script(
        "return Array.from(document.querySelectorAll('#functions tbody tr'))"
        ".filter(r => !r.hidden).map(r => r.cells[0].textContent)"
    )
    assert shown == ["listed-fn"]
    signed_in.find("input.filter").clear()
    signed_in.script("document.querySelector('input.filter').dispatchEvent(new Event('input'))")
    signed_in.find("#functions th").click()
    signed_in.find("#functions th").click()  # descending
    names = signed_in.script(
        "return Array.from(document.querySelectorAll('#functions tbody tr'))"
        ".map(r => r.cells[0].textContent)"
    )
    assert names == sorted(names, reverse=True)
    signed_in.get(f"{server.url}/_gureum/console/keys")
    signed_in.screenshot("keys")


def test_an_invoke_from_the_page_shows_the_response(
    signed_in: Browser, server: GureumProcess
) -> None:
    create(server.client(), "invoked-fn")
    signed_in.get(f"{server.url}/_gureum/console/functions/invoked-fn")
    payload = signed_in.find("textarea[name=payload]")
    payload.clear()
    payload.type('{"from": "the console"}')
    signed_in.find("#invoke").click()
    response = signed_in.wait_for(lambda: signed_in.find("#response-payload").text)
    assert json.loads(response) == {"echo": {"from": "the console"}}
    assert "REPORT RequestId:" in signed_in.find("#response-log").text
    # The live tail picks the invocation's lines up from CloudWatch Logs.
    tail = signed_in.wait_for(
        lambda: (
            "END RequestId" in signed_in.find("#log-tail").text and signed_in.find("#log-tail").text
        )
    )
    assert "START RequestId" in str(tail)
    signed_in.screenshot("function-invoked")


def test_a_burst_s_throttle_appears_on_the_dashboard(
    signed_in: Browser, server: GureumProcess
) -> None:
    client = server.client()
    create(client, "bursty-fn", SLOW)
    client.put_function_concurrency(FunctionName="bursty-fn", ReservedConcurrentExecutions=1)
    signed_in.get(f"{server.url}/_gureum/console/dashboard")
    total = "#total-ReservedFunctionConcurrentInvocationLimitExceeded"
    assert signed_in.wait_for(lambda: signed_in.find(total).text) == "0"

    def call(_: int) -> str:
        try:
            client.invoke(FunctionName="bursty-fn", Payload=b"{}")
            return "ran"
        except ClientError as error:
            return str(error.response["Error"]["Code"])

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(call, range(4)))
    throttled = outcomes.count("TooManyRequestsException")
    assert throttled >= 1, outcomes
    shown = signed_in.wait_for(
        lambda: signed_in.find(total).text not in ("", "0") and signed_in.find(total).text
    )
    assert int(str(shown)) == throttled
    signed_in.screenshot("dashboard")


def test_a_canary_alias_s_split_chart_reflects_100_invokes(
    signed_in: Browser, server: GureumProcess
) -> None:
    client = server.client()
    create(client, "canary-fn")
    client.publish_version(FunctionName="canary-fn")
    client.update_function_code(
        FunctionName="canary-fn", ZipFile=zip_of({"index.py": ECHO + "# 2\n"})
    )
    client.get_waiter("function_updated_v2").wait(
        FunctionName="canary-fn", WaiterConfig={"Delay": 0.1}
    )
    client.publish_version(FunctionName="canary-fn")
    client.create_alias(
        FunctionName="canary-fn",
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}},
    )
    ran = {"1": 0, "2": 0}
    for _ in range(100):
        reply = client.invoke(FunctionName="canary-fn", Qualifier="live", Payload=b"{}")
        ran[reply["ExecutedVersion"]] += 1
    signed_in.get(f"{server.url}/_gureum/console/functions/canary-fn")
    rows = {
        cells[0]: cells
        for r in signed_in.find_all("table.split tbody tr")
        if (cells := r.text.split())
    }
    assert [rows["1"][1], rows["2"][1]] == ["70", "30"]  # configured %
    assert [int(rows["1"][3]), int(rows["2"][3])] == [ran["1"], ran["2"]]  # invocations
    assert float(rows["2"][4]) == ran["2"]  # observed %, of 100
    bars = signed_in.script(
        "const u = document.querySelector('.split-chart .uplot'); return u ? 1 : 0;"
    )
    assert bars == 1  # uPlot drew the chart
    signed_in.script("document.querySelector('.alias').scrollIntoView(); window.scrollBy(0, -90)")
    signed_in.screenshot("canary-split")


def test_a_dead_letter_message_can_be_redriven(signed_in: Browser, server: GureumProcess) -> None:
    sqs = server.client("sqs")
    dlq = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    source = sqs.create_queue(
        QueueName="orders",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
        },
    )["QueueUrl"]
    sqs.send_message(QueueUrl=source, MessageBody='<img src=x onerror="alert(1)">')
    assert sqs.receive_message(QueueUrl=source, VisibilityTimeout=0)["Messages"]
    assert "Messages" not in sqs.receive_message(QueueUrl=source)  # moved to the DLQ
    signed_in.get(f"{server.url}/_gureum/console/queues/orders-dlq")
    body = signed_in.wait_for(lambda: signed_in.find("#messages tbody pre").text)
    assert body == '<img src=x onerror="alert(1)">'  # shown as text, not markup
    signed_in.screenshot("queue-messages")
    signed_in.get(f"{server.url}/_gureum/console/queues")
    signed_in.screenshot("queues")
    signed_in.find("button.redrive").click()
    notice = signed_in.wait_for(lambda: signed_in.find(".notice").text)
    assert notice == "Moved 1 message from orders-dlq back to its source queue."
    back = sqs.receive_message(QueueUrl=source)["Messages"]
    assert back[0]["Body"] == '<img src=x onerror="alert(1)">'


def test_screenshots_are_saved(signed_in: Browser, server: GureumProcess) -> None:
    """What the tests show is saved beside the run's artefacts, as PNG pictures. On its own
    page: under two test processes the tests that take the others may run on the other."""
    signed_in.get(f"{server.url}/_gureum/console/functions")
    signed_in.wait_for(lambda: "/functions" in signed_in.current_url)
    saved = signed_in.screenshot("functions-page")
    assert saved.parent == Path(signed_in.artefacts)
    assert saved.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
