"""Sign-in and sessions: the same access keys the API takes, checked by the kernel's
`AccountDirectory`, and sessions kept in memory (a restart signs everyone out)."""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import replace

from gureum.aws.accounts import AccountDirectory, ExpiredCredential, root_arn
from gureum.console.domain.sessions import (
    ROOT_ONLY,
    WRONG_CREDENTIALS,
    Session,
    valid_region,
)


class SignInRefused(Exception):
    """Sign-in failed; the message is what the page shows."""


class SessionBook:
    """Who is signed in. Thread-safe (pages are served on the loop, forms on workers).

    Invariant: a session sees exactly one account, the one whose key signed in; nothing is
    looked up by anything but the session's account.
    """

    def __init__(self, accounts: AccountDirectory, now: Callable[[], float]) -> None:
        self._accounts = accounts
        self._now = now
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def sign_in(self, access_key_id: str, secret: str, region: str) -> Session:
        if not valid_region(region):
            raise SignInRefused(f"{region!r} is not a Region name (such as us-east-1).")
        try:
            key = self._accounts.find(access_key_id.strip())
        except ExpiredCredential:
            key = None
        if key is None or not hmac.compare_digest(key.secret_access_key.encode(), secret.encode()):
            raise SignInRefused(WRONG_CREDENTIALS)
        # The console acts with the account's full rights, so only the account's own key may
        # open it (an IAM user's key would escape its policies here).
        if key.session_token is not None or key.principal != root_arn(key.account_id):
            raise SignInRefused(ROOT_ONLY)
        session = Session(
            secrets.token_urlsafe(32),
            key.account_id,
            region,
            secrets.token_urlsafe(32),
            self._now(),
        )
        with self._lock:
            self._forget_expired()
            self._sessions[session.token] = session
        return session

    def find(self, token: str) -> Session | None:
        """The live session of a cookie's token (its idle time restarts), or None."""
        if not token:
            return None
        now = self._now()
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if session.expired(now):
                del self._sessions[token]
                return None
            session = self._sessions[token] = replace(session, last_used=now)
            return session

    def sign_out(self, token: str) -> None:
        with self._lock:
            self._sessions.pop(token, None)

    def _forget_expired(self) -> None:
        now = self._now()
        for token in [t for t, s in self._sessions.items() if s.expired(now)]:
            del self._sessions[token]
