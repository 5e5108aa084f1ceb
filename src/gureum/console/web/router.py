"""The console as an ASGI app under `/_gureum/console`: sign-in, pages, forms, server-sent
events and the packaged assets.

Every page but sign-in needs a session cookie (HttpOnly, SameSite=Strict); every POST needs the
session's form token, and a cross-origin POST is refused outright. Blocking reads run on the
shared worker threads. Live figures are read periodically by each open stream, never pushed
from the invoke path, so an open dashboard costs the invoke path nothing but CloudWatch reads.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import Executor
from importlib import resources
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote

from gureum.aws.errors import AwsError
from gureum.console.domain.sessions import Session, cookie_header, token_from_cookies
from gureum.console.services.actions import Actions
from gureum.console.services.readings import Readings
from gureum.console.services.sessions import SessionBook, SignInRefused
from gureum.console.web import pages
from gureum.console.web.markup import Html

log = logging.getLogger("gureum.console")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
T = TypeVar("T")

BASE = pages.BASE
FORM_LIMIT = 7 * 1024 * 1024  # an invoke payload (6 MB) and its form encoding
PRE_COOKIE = "gureum_console_pre"
STREAM_LIFETIME = 60.0  # seconds; the browser reconnects (EventSource), so shutdown never waits
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    "": "text/plain; charset=utf-8",
}
_SECURITY = [
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    # Not "no-referrer": under it a browser sends `Origin: null` with the console's own forms.
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-store"),
]


class Reply:
    def __init__(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.headers = [("Content-Type", content_type), *_SECURITY, *(headers or [])]


def _page(markup: Html, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Reply:
    return Reply(status, markup.encode(), "text/html; charset=utf-8", headers)


def _redirect(where: str, headers: list[tuple[str, str]] | None = None) -> Reply:
    return Reply(303, b"", "text/plain", [("Location", where), *(headers or [])])


def _assets() -> dict[str, bytes]:
    """Every packaged asset by its path under static/ (read once: they never change)."""
    found: dict[str, bytes] = {}

    def walk(node: Any, prefix: str) -> None:
        for child in node.iterdir():
            if child.is_dir():
                walk(child, f"{prefix}{child.name}/")
            else:
                found[f"{prefix}{child.name}"] = child.read_bytes()

    walk(resources.files("gureum.console") / "static", "")
    return found


class ConsoleWeb:
    def __init__(
        self,
        sessions: SessionBook,
        readings: Readings,
        actions: Actions,
        executor: Executor,
        interval: float = 1.0,
    ) -> None:
        self._sessions = sessions
        self._readings = readings
        self._actions = actions
        self._executor = executor
        self._interval = interval
        self._assets = _assets()
        self.stopping = asyncio.Event()

    async def _blocking(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    # --- ASGI ---------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"][len(BASE) :] or "/"
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        session = self._sessions.find(token_from_cookies(headers.get("cookie", "")))
        method = scope["method"]
        if method == "GET" and path.startswith("/events/") and session is not None:
            await self._stream(path, session, receive, send)
            return
        body = b""
        if method == "POST":
            body = await _read(receive, FORM_LIMIT)
        try:
            reply = await self._route(method, path, headers, session, body)
        except AwsError as error:
            reply = _page(
                pages.layout("Error", pages.error_box(f"{error.code}: {error.message}"), session),
                error.status,
            )
        except Exception:
            log.exception("console: %s %s", method, path)
            reply = _page(
                pages.layout(
                    "Error", pages.error_box("Something went wrong; see the server log."), session
                ),
                500,
            )
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers]
        raw.append((b"content-length", str(len(reply.body)).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": raw})
        await send({"type": "http.response.body", "body": reply.body})

    async def _route(
        self, method: str, path: str, headers: dict[str, str], session: Session | None, body: bytes
    ) -> Reply:
        if path.startswith("/static/") and method == "GET":
            return self._asset(path[len("/static/") :])
        if path == "/sign-in":
            return await self._sign_in(method, headers, body)
        if session is None:
            return _redirect(f"{BASE}/sign-in")
        if method == "POST":
            form = _form(body)
            if not _same_origin(headers) or not session.accepts_form(form.get("csrf", "")):
                return _page(
                    pages.layout(
                        "Refused",
                        pages.error_box(
                            "The form's token is missing or stale: reload the page and try again."
                        ),
                        session,
                    ),
                    403,
                )
            return await self._post(path, session, form)
        if method != "GET":
            return Reply(405, b"Method Not Allowed", "text/plain")
        return await self._get(path, session)

    async def _get(self, path: str, session: Session) -> Reply:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        match parts:
            case [""] | ["functions"]:
                rows = await self._blocking(lambda: self._readings.functions(session))
                return _page(pages.functions(session, rows))
            case ["functions", name]:
                page = await self._blocking(lambda: self._readings.function(session, name))
                return _page(pages.function(session, page))
            case ["dashboard"]:
                data = await self._blocking(lambda: self._readings.dashboard(session))
                return _page(pages.dashboard(session, data))
            case ["queues"]:
                queue_rows = await self._blocking(lambda: self._readings.queues(session))
                return _page(pages.queues(session, queue_rows))
            case ["queues", name]:
                found = await self._blocking(lambda: self._readings.messages(session, name))
                return _page(pages.messages(session, name, found))
            case ["keys"]:
                keys = await self._blocking(lambda: self._readings.keys(session))
                return _page(pages.keys(session, keys))
        return _page(pages.layout("Not found", pages.error_box("No such page."), session), 404)

    async def _post(self, path: str, session: Session, form: dict[str, str]) -> Reply:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        match parts:
            case ["sign-out"]:
                self._sessions.sign_out(session.token)
                return _redirect(f"{BASE}/sign-in", [("Set-Cookie", cookie_header("", 0))])
            case ["functions", name, "invoke"]:
                return await self._invoke(session, name, form)
            case ["functions", name, "concurrency"]:
                error = None
                try:
                    await self._blocking(
                        lambda: self._actions.put_concurrency(
                            session, name, form.get("reserved", "")
                        )
                    )
                except AwsError as failure:
                    error = f"{failure.code}: {failure.message}"
                page = await self._blocking(lambda: self._readings.function(session, name))
                return _page(
                    pages.function(session, page, error=error, form=form), 400 if error else 200
                )
            case ["queues", name, "redrive"]:
                notice, error = None, None
                try:
                    moved = await self._blocking(lambda: self._actions.redrive(session, name))
                    plural = "s" if moved != 1 else ""
                    notice = f"Moved {moved} message{plural} from {name} back to its source queue."
                except AwsError as failure:
                    error = f"{failure.code}: {failure.message}"
                rows = await self._blocking(lambda: self._readings.queues(session))
                return _page(pages.queues(session, rows, notice, error), 400 if error else 200)
        return _page(pages.layout("Not found", pages.error_box("No such action."), session), 404)

    async def _invoke(self, session: Session, name: str, form: dict[str, str]) -> Reply:
        invoked, error = None, None
        try:
            invoked = await self._actions.invoke(
                session,
                name,
                form.get("qualifier", ""),
                form.get("payload", ""),
                bool(form.get("async")),
            )
        except AwsError as failure:
            error = f"{failure.code}: {failure.message}"
        page = await self._blocking(lambda: self._readings.function(session, name))
        return _page(pages.function(session, page, invoked, error, form), 400 if error else 200)

    async def _sign_in(self, method: str, headers: dict[str, str], body: bytes) -> Reply:
        if method == "GET":
            pre = secrets.token_urlsafe(24)
            cookie = f"{PRE_COOKIE}={pre}; Path={BASE}; HttpOnly; SameSite=Strict"
            return _page(pages.sign_in(pre), headers=[("Set-Cookie", cookie)])
        form = _form(body)
        pre = _cookie(headers.get("cookie", ""), PRE_COOKIE)
        if (
            not _same_origin(headers)
            or not pre
            or not secrets.compare_digest(pre, form.get("csrf", ""))
        ):
            return _page(
                pages.sign_in(
                    pre or "",
                    "The form's token is missing or stale: reload the page and try again.",
                ),
                403,
            )
        try:
            session = self._sessions.sign_in(
                form.get("access_key_id", ""),
                form.get("secret_access_key", ""),
                form.get("region", "") or "us-east-1",
            )
        except SignInRefused as refused:
            return _page(pages.sign_in(pre, str(refused)), 401)
        return _redirect(f"{BASE}/functions", [("Set-Cookie", cookie_header(session.token))])

    def _asset(self, name: str) -> Reply:
        data = self._assets.get(name)
        if data is None:
            return Reply(404, b"Not Found", "text/plain")
        suffix = name[name.rfind(".") :] if "." in name.rsplit("/", 1)[-1] else ""
        reply = Reply(200, data, _TYPES.get(suffix, "application/octet-stream"))
        reply.headers = [
            (k, "max-age=3600") if k == "Cache-Control" else (k, v) for k, v in reply.headers
        ]
        return reply

    # --- server-sent events -----------------------------------------------------------------

    async def _stream(self, path: str, session: Session, receive: Receive, send: Send) -> None:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        match parts:
            case ["events", "dashboard"]:

                def read(since: int) -> tuple[object, int]:
                    return self._readings.dashboard(session).wire(), 0

            case ["events", "logs", name]:

                def read(since: int) -> tuple[object, int]:
                    lines, upto = self._readings.log_tail(session, name, since)
                    return [{"t": t, "m": m} for t, m in lines], upto

            case _:
                await send({"type": "http.response.start", "status": 404, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
        headers = [
            (b"content-type", b"text/event-stream"),
            (b"cache-control", b"no-store"),
            (b"x-accel-buffering", b"no"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.create_task(watch())
        loop = asyncio.get_running_loop()
        ends = loop.time() + STREAM_LIFETIME
        since = 0
        try:
            await send({"type": "http.response.body", "body": b"retry: 500\n\n", "more_body": True})
            while not gone.is_set() and not self.stopping.is_set() and loop.time() < ends:
                if self._sessions.find(session.token) is None:
                    break  # signed out (or expired) since the stream opened
                try:
                    data, since = await self._blocking(functools.partial(read, since))
                except Exception:
                    # A figure that cannot be read ends this stream; the browser reconnects.
                    log.exception("console: stream %s", path)
                    break
                if data != []:
                    await send(
                        {"type": "http.response.body", "body": pages.event(data), "more_body": True}
                    )
                waits = [
                    asyncio.ensure_future(gone.wait()),
                    asyncio.ensure_future(self.stopping.wait()),
                ]
                await asyncio.wait(
                    waits, timeout=self._interval, return_when=asyncio.FIRST_COMPLETED
                )
                for waiting in waits:
                    waiting.cancel()
        except OSError:
            pass  # the browser went away mid-write
        finally:
            watcher.cancel()
        if not gone.is_set():
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _read(receive: Receive, cap: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b""
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= cap:
            chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks) if size <= cap else b""


def _form(body: bytes) -> dict[str, str]:
    parsed = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def _cookie(header: str, name: str) -> str:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""


def _same_origin(headers: dict[str, str]) -> bool:
    """A browser names the page a POST comes from; one from another site is refused."""
    origin = headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return origin.split("://", 1)[-1] == headers.get("host", "")
