"""IAM's random ids and secrets, in AWS's forms: a unique id is a four-letter prefix and 17
characters of base32 (21 in all), an access key id a prefix and 16 (20 in all), a secret 40
characters of base64's alphabet."""

from __future__ import annotations

import secrets
import string

from gureum.iam.domain.entities import Prefix

_BASE32 = string.ascii_uppercase + "234567"
_SECRET = string.ascii_letters + string.digits + "+/"


def unique_id(prefix: Prefix) -> str:
    return prefix.value + "".join(secrets.choice(_BASE32) for _ in range(17))


def access_key_id(prefix: Prefix = Prefix.ACCESS_KEY) -> str:
    return prefix.value + "".join(secrets.choice(_BASE32) for _ in range(16))


def secret_access_key() -> str:
    return "".join(secrets.choice(_SECRET) for _ in range(40))
