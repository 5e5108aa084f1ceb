"""The console over plain HTTP, as a hostile or careless client would use it: sessions and
their cookie, CSRF, accounts kept apart, AWS's own validation messages on forms, and markup
that no function name, description, tag, variable, payload or log line can break out of."""

from __future__ import annotations

import html
import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.aws import ROLE
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>"\'&'
LOUD = (
    "def handler(event, context):\n"
    "    print(event.get('say', ''))\n"
    "    return {'said': event.get('say', '')}\n"
)


class Page:
    def __init__(self, status: int, body: str, headers: Any) -> None:
        self.status = status
        self.body = body
        self.headers = headers

    @property
    def csrf(self) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', self.body)
        assert found, self.body[:500]
        return found.group(1)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Visitor:
    """A browser without a browser: cookies, forms, no redirects followed."""

    def __init__(self, server: GureumProcess) -> None:
        self.base = f"{server.url}/_gureum/console"
        self.origin = server.url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect()
        )

    def open(
        self, path: str, form: dict[str, str] | None = None, origin: str | None = None
    ) -> Page:
        data = None if form is None else urllib.parse.urlencode(form).encode()
        request = urllib.request.Request(self.base + path, data)
        if form is not None:
            request.add_header("Origin", origin or self.origin)
        try:
            with self.opener.open(request, timeout=30) as reply:
                return Page(reply.status, reply.read().decode(), reply.headers)
        except urllib.error.HTTPError as error:
            return Page(error.code, error.read().decode(), error.headers)

    def sign_in(self, key: str, secret: str = "test") -> Page:
        token = self.open("/sign-in").csrf
        form = {"csrf": token, "access_key_id": key, "secret_access_key": secret}
        return self.open("/sign-in", {**form, "region": "us-east-1"})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    process = GureumProcess(tmp_path_factory.mktemp("console-http") / "data").start()
    yield process
    process.stop()


def client(server: GureumProcess, account: str, service: str = "lambda") -> Any:
    return server.client(
        service,
        aws_access_key_id=account,
        config=Config(retries={"total_max_attempts": 1}, parameter_validation=False),
    )


def create(lam: Any, name: str, source: str = LOUD, **extra: Any) -> None:
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": zip_of({"index.py": source})},
        **extra,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})


def test_the_session_cookie_is_http_only_and_same_site_strict(server: GureumProcess) -> None:
    visitor = Visitor(server)
    reply = visitor.sign_in("test")
    assert reply.status == 303
    cookie = reply.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert visitor.open("/functions").status == 200
    signed_out = visitor.open("/sign-out", {"csrf": visitor.open("/functions").csrf})
    assert signed_out.status == 303
    assert visitor.open("/functions").status == 303  # back to sign-in


def test_only_an_account_s_own_key_signs_in(server: GureumProcess) -> None:
    assert Visitor(server).sign_in("test", "wrong").status == 401
    assert Visitor(server).sign_in("nobody-knows-me", "test").status == 401
    iam = client(server, "test", "iam")
    iam.create_user(UserName="console-user")
    key = iam.create_access_key(UserName="console-user")["AccessKey"]
    refused = Visitor(server).sign_in(key["AccessKeyId"], key["SecretAccessKey"])
    assert refused.status == 401
    assert "IAM users&#x27; and STS session keys are not accepted here" in refused.body


def test_a_form_without_its_token_or_from_another_site_is_refused(server: GureumProcess) -> None:
    lam = client(server, "333333333333")
    create(lam, "guarded-fn")
    visitor = Visitor(server)
    visitor.sign_in("333333333333")
    token = visitor.open("/functions/guarded-fn").csrf
    form = {"payload": "{}", "qualifier": ""}
    assert visitor.open("/functions/guarded-fn/invoke", form).status == 403
    assert visitor.open("/functions/guarded-fn/invoke", {**form, "csrf": "forged"}).status == 403
    cross = visitor.open(
        "/functions/guarded-fn/invoke", {**form, "csrf": token}, origin="http://evil.example"
    )
    assert cross.status == 403
    done = visitor.open("/functions/guarded-fn/invoke", {**form, "csrf": token})
    assert done.status == 200
    assert 'id="response-payload"' in done.body
    # A token is its session's: another session's does not pass.
    other = Visitor(server)
    other.sign_in("333333333333")
    assert other.open("/functions/guarded-fn/invoke", {**form, "csrf": token}).status == 403


def test_nothing_of_one_account_is_visible_to_another(server: GureumProcess) -> None:
    owner, stranger = "111111111111", "222222222222"
    create(client(server, owner), "private-fn")
    client(server, owner).put_function_concurrency(
        FunctionName="private-fn", ReservedConcurrentExecutions=2
    )
    client(server, owner, "sqs").create_queue(QueueName="private-queue")
    client(server, owner, "kms").create_key(Description="private-key")
    mine, theirs = Visitor(server), Visitor(server)
    mine.sign_in(owner)
    theirs.sign_in(stranger)
    assert "private-fn" in mine.open("/functions").body
    assert "private-queue" in mine.open("/queues").body
    assert "private-key" in mine.open("/keys").body
    for path in ("/functions", "/queues", "/keys", "/dashboard"):
        assert "private" not in theirs.open(path).body, path
    page = theirs.open("/functions/private-fn")
    assert page.status == 404
    assert (
        "ResourceNotFoundException: Function not found: "
        "arn:aws:lambda:us-east-1:222222222222:function:private-fn" in page.body
    )
    token = theirs.open("/functions").csrf
    acted = theirs.open("/functions/private-fn/invoke", {"csrf": token, "payload": "{}"})
    assert acted.status == 404
    assert theirs.open("/queues/private-queue").status == 400  # SQS: no such queue
    redrive = theirs.open("/queues/private-queue/redrive", {"csrf": token})
    assert redrive.status == 400
    assert "QueueDoesNotExist" in redrive.body


def _api_error(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    error = caught.value.response["Error"]
    return str(error["Code"]), str(error["Message"])


def test_forms_answer_with_the_api_s_own_errors(server: GureumProcess) -> None:
    account = "444444444444"
    lam = client(server, account)
    create(lam, "checked-fn")
    visitor = Visitor(server)
    visitor.sign_in(account)
    token = visitor.open("/functions/checked-fn").csrf
    cases: list[tuple[str, dict[str, str], Callable[[], tuple[str, str]]]] = [
        (
            "/functions/checked-fn/concurrency",
            {"reserved": "-5"},
            lambda: _api_error(
                lam.put_function_concurrency,
                FunctionName="checked-fn",
                ReservedConcurrentExecutions=-5,
            ),
        ),
        (
            "/functions/checked-fn/invoke",
            {"payload": "{not json"},
            lambda: _api_error(lam.invoke, FunctionName="checked-fn", Payload=b"{not json"),
        ),
        (
            "/functions/checked-fn/invoke",
            {"payload": "{}", "qualifier": "no such alias!"},
            lambda: _api_error(
                lam.invoke, FunctionName="checked-fn", Qualifier="no such alias!", Payload=b"{}"
            ),
        ),
    ]
    for path, form, api in cases:
        code, message = api()
        page = visitor.open(path, {"csrf": token, **form})
        assert page.status == 400, (path, form)
        shown = re.search(r'<p class="error" role="alert">(.*?)</p>', page.body, re.S)
        assert shown is not None
        assert html.unescape(shown.group(1)) == f"{code}: {message}"


def _inline_scripts(body: str) -> list[str]:
    return [s for s in re.findall(r"<script[^>]*>", body) if "src=" not in s]


def test_hostile_strings_stay_text(server: GureumProcess) -> None:
    account = "555555555555"
    lam = client(server, account)
    create(
        lam,
        "hostile-fn",
        Description=HOSTILE,
        Environment={"Variables": {"SECRET": HOSTILE}},
    )
    sqs = client(server, account, "sqs")
    url = sqs.create_queue(QueueName="hostile-queue")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=HOSTILE)
    # Lambda's tags refuse markup (their pattern); KMS's descriptions take any text.
    client(server, account, "kms").create_key(Description=HOSTILE)
    visitor = Visitor(server)
    visitor.sign_in(account)
    token = visitor.open("/functions").csrf
    invoked = visitor.open(
        "/functions/hostile-fn/invoke", {"csrf": token, "payload": json.dumps({"say": HOSTILE})}
    )
    pages = [
        invoked,
        visitor.open("/functions"),
        visitor.open("/functions/hostile-fn"),
        visitor.open("/queues/hostile-queue"),
        visitor.open("/keys"),
    ]
    for page in pages:
        assert page.status == 200
        assert "<script>alert" not in page.body
        assert "<img src=x" not in page.body
        assert _inline_scripts(page.body) == []
        csp = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
    assert escaped in invoked.body  # the log line (print) in the REPORT tail
    assert escaped in pages[2].body  # description and variable
    assert escaped in pages[3].body  # the message
    assert escaped in pages[4].body  # the key's description


def test_a_live_stream_needs_a_session_and_serves_json(server: GureumProcess) -> None:
    anonymous = Visitor(server).open("/events/dashboard")
    assert anonymous.status == 303
    visitor = Visitor(server)
    visitor.sign_in("test")
    request = urllib.request.Request(f"{visitor.base}/events/dashboard")
    with visitor.opener.open(request, timeout=30) as reply:
        assert reply.headers["Content-Type"] == "text/event-stream"
        assert reply.readline() == b"retry: 500\n"
        reply.readline()
        event = reply.readline()
    data = json.loads(event.removeprefix(b"data: "))
    assert data["accountLimit"] == 1000
    assert "throttle:ConcurrentInvocationLimitExceeded" in data["series"]


def test_hostile_requests_get_plain_refusals(server: GureumProcess) -> None:
    visitor = Visitor(server)
    for path in ("/static/../../app.py", "/static/%2e%2e/%2e%2e/app.py", "/static/nope.js"):
        assert visitor.open(path).status == 404, path
    visitor.jar.set_cookie(
        http.cookiejar.Cookie(
            0,
            "gureum_console",
            "x" * 5000,
            None,
            False,
            "127.0.0.1",
            False,
            False,
            "/_gureum/console",
            True,
            False,
            None,
            False,
            None,
            None,
            {},
        )
    )
    assert visitor.open("/functions").status == 303  # an unknown session is none
    visitor = Visitor(server)
    visitor.sign_in("666666666666")
    token = visitor.open("/functions").csrf
    for name in ("%00", "a" * 300, "..", "%3Cb%3E"):
        page = visitor.open(f"/functions/{name}")
        assert page.status in (400, 404), (name, page.status)
        assert "<b>" not in page.body
    raw = urllib.request.Request(
        f"{visitor.base}/functions/x/invoke",
        b"csrf=" + token.encode() + b"&payload=\xff\xfe",
        {"Origin": visitor.origin},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        visitor.opener.open(raw, timeout=30)
    refused.value.close()
    assert refused.value.code == 404  # read as text (replacement characters); no such function
    huge = urllib.request.Request(
        f"{visitor.base}/functions/x/invoke",
        b"csrf=" + b"a" * (8 << 20),
        {"Origin": visitor.origin},
    )
    with pytest.raises(urllib.error.HTTPError) as too_big:
        visitor.opener.open(huge, timeout=30)
    too_big.value.close()
    assert too_big.value.code == 403  # past the form limit: nothing is read, nothing is done
