"""Console sessions as values: who signed in, where, until when, and the form token that proves a
form came from a page the console served (CSRF). No clock and no randomness here: both come in."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

# How long a signed-in session lasts without being used (seconds).
IDLE_LIMIT = 12 * 3600
COOKIE = "gureum_console"
# AWS's wording on its own sign-in page for a wrong key or secret: it never says which.
WRONG_CREDENTIALS = "Your authentication information is incorrect. Please try again."
ROOT_ONLY = (
    "The console signs in with an account's own access key (its 12-digit account id, or test); "
    "IAM users' and STS session keys are not accepted here."
)
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}", re.ASCII)


@dataclass(frozen=True, slots=True)
class Session:
    """One signed-in browser: the account and region it sees, and its form token."""

    token: str
    account: str
    region: str
    csrf: str
    last_used: float

    def expired(self, now: float) -> bool:
        return now - self.last_used > IDLE_LIMIT

    def accepts_form(self, presented: str) -> bool:
        """Whether a form's token is this session's (compared in constant time)."""
        return bool(presented) and hmac.compare_digest(presented, self.csrf)


def valid_region(region: str) -> bool:
    return bool(_REGION.fullmatch(region))


def cookie_header(token: str, max_age: int = IDLE_LIMIT) -> str:
    """The session cookie: never readable by scripts, never sent by another site's request."""
    return f"{COOKIE}={token}; Path=/_gureum/console; HttpOnly; SameSite=Strict; Max-Age={max_age}"


def token_from_cookies(header: str) -> str:
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return ""
