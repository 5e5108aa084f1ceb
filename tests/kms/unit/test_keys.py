"""The pure rules of KMS keys: the state machine, key references, aliases and the envelope."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from gureum.aws.errors import AwsError, ValidationError
from gureum.kms.domain import envelope
from gureum.kms.domain.errors import (
    InvalidAliasName,
    InvalidCiphertext,
    KeyDisabled,
    KeyInvalidState,
    KeyNotFound,
    NotAuthorized,
    TagRejected,
    UnsupportedKeyOperation,
)
from gureum.kms.domain.keys import (
    TRANSITIONS,
    Key,
    KeyEvent,
    KeyRef,
    KeyState,
    KeyUse,
    cancelled,
    check_alias_name,
    check_alias_target,
    check_key_spec,
    check_usable,
    deletion_due,
    moved,
    parse_key_ref,
    rotated,
    rotation_due,
    scheduled,
    tagged,
    untagged,
)

ACCOUNT = "123456789012"
REGION = "us-east-1"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
MATERIAL = bytes(range(32))
NONCE = bytes(12)


def key_in(state: KeyState) -> Key:
    return Key(ACCOUNT, REGION, KEY_ID, NOW, state=state)


# --- the state machine --------------------------------------------------------------------------

LEGAL = {
    (KeyState.ENABLED, KeyEvent.ENABLE): KeyState.ENABLED,
    (KeyState.ENABLED, KeyEvent.DISABLE): KeyState.DISABLED,
    (KeyState.DISABLED, KeyEvent.ENABLE): KeyState.ENABLED,
    (KeyState.DISABLED, KeyEvent.DISABLE): KeyState.DISABLED,
    (KeyState.ENABLED, KeyEvent.SCHEDULE_DELETION): KeyState.PENDING_DELETION,
    (KeyState.DISABLED, KeyEvent.SCHEDULE_DELETION): KeyState.PENDING_DELETION,
    (KeyState.PENDING_DELETION, KeyEvent.CANCEL_DELETION): KeyState.DISABLED,
}
ILLEGAL = [pair for pair in itertools.product(KeyState, KeyEvent) if pair not in LEGAL]


def test_the_table_is_exactly_the_legal_moves() -> None:
    assert dict(TRANSITIONS) == LEGAL


@pytest.mark.parametrize(("state", "event"), list(LEGAL))
def test_legal_moves(state: KeyState, event: KeyEvent) -> None:
    assert moved(key_in(state), event) is LEGAL[state, event]


@pytest.mark.parametrize(("state", "event"), ILLEGAL)
def test_every_other_move_is_kms_invalid_state(state: KeyState, event: KeyEvent) -> None:
    with pytest.raises(KeyInvalidState) as raised:
        moved(key_in(state), event)
    expected = "is pending deletion." if state is KeyState.PENDING_DELETION else "is not pending"
    assert raised.value.message.startswith(f"{ARN} {expected}")
    assert raised.value.code == "KMSInvalidStateException"


USES: list[tuple[KeyUse, KeyState, type[AwsError] | None, str]] = [
    (KeyUse.CRYPTOGRAPHY, KeyState.ENABLED, None, ""),
    (KeyUse.CRYPTOGRAPHY, KeyState.DISABLED, KeyDisabled, f"{ARN} is disabled."),
    (
        KeyUse.CRYPTOGRAPHY,
        KeyState.PENDING_DELETION,
        KeyInvalidState,
        f"{ARN} is pending deletion.",
    ),
    (KeyUse.ROTATION, KeyState.DISABLED, KeyDisabled, f"{ARN} is disabled."),
    (KeyUse.ROTATION, KeyState.PENDING_DELETION, KeyInvalidState, f"{ARN} is pending deletion."),
    (KeyUse.MANAGEMENT, KeyState.DISABLED, None, ""),
    (KeyUse.MANAGEMENT, KeyState.PENDING_DELETION, KeyInvalidState, f"{ARN} is pending deletion."),
    (KeyUse.READ, KeyState.DISABLED, None, ""),
    (KeyUse.READ, KeyState.PENDING_DELETION, None, ""),
]


@pytest.mark.parametrize(("use", "state", "error", "message"), USES)
def test_which_states_each_use_accepts(
    use: KeyUse, state: KeyState, error: type[AwsError] | None, message: str
) -> None:
    if error is None:
        check_usable(key_in(state), use)
        return
    with pytest.raises(error) as raised:
        check_usable(key_in(state), use)
    assert raised.value.message == message


@pytest.mark.parametrize(("days", "allowed"), [(6, False), (7, True), (30, True), (31, False)])
def test_the_pending_window_is_7_to_30_days(days: int, allowed: bool) -> None:
    key = key_in(KeyState.ENABLED)
    if not allowed:
        with pytest.raises(ValidationError) as raised:
            scheduled(key, NOW, days, timedelta(days=days))
        assert raised.value.message == (
            f"PendingWindowInDays should be between 7 and 30, but it is {days}"
        )
        return
    pending = scheduled(key, NOW, days, timedelta(seconds=days))  # a scaled window
    assert pending.state is KeyState.PENDING_DELETION
    assert pending.deletion_date == NOW + timedelta(seconds=days)
    assert pending.pending_window_days == days
    assert not deletion_due(pending, NOW + timedelta(seconds=days - 1))
    assert deletion_due(pending, NOW + timedelta(seconds=days))


def test_cancelling_deletion_leaves_the_key_disabled_with_no_date() -> None:
    pending = scheduled(key_in(KeyState.ENABLED), NOW, 7, timedelta(days=7))
    back = cancelled(pending)
    assert (back.state, back.deletion_date, back.pending_window_days) == (
        KeyState.DISABLED,
        None,
        None,
    )
    assert not deletion_due(back, NOW + timedelta(days=365))


def test_rotation_adds_a_material_version_and_moves_the_date() -> None:
    key = Key(ACCOUNT, REGION, KEY_ID, NOW, rotation_period_days=90, next_rotation=NOW)
    assert rotation_due(key, NOW)
    later = rotated(key, NOW + timedelta(days=90))
    assert later.material_version == 2
    assert not rotation_due(later, NOW + timedelta(days=89))
    assert not rotation_due(key_in(KeyState.ENABLED), NOW + timedelta(days=9999))


# --- naming keys --------------------------------------------------------------------------------

REFS: list[tuple[str, KeyRef | str]] = [
    (KEY_ID, KeyRef(key_id=KEY_ID)),
    (ARN, KeyRef(key_id=KEY_ID)),
    ("alias/my-key", KeyRef(alias="alias/my-key")),
    (f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/my-key", KeyRef(alias="alias/my-key")),
    ("mrk-" + "a" * 32, KeyRef(key_id="mrk-" + "a" * 32)),
    ("fake-key-id", "Invalid keyId 'fake-key-id'"),
    ("134f2428cec14b25a1ae9048164dba47", "Invalid keyId '134f2428cec14b25a1ae9048164dba47'"),
    (f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{KEY_ID}", "Invalid arn eu-west-1"),
    (
        f"arn:aws:kms:{REGION}:210987654321:key/{KEY_ID}",
        f"Key 'arn:aws:kms:{REGION}:210987654321:key/{KEY_ID}' does not exist",
    ),
    (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f", f"Invalid keyId 'arn:aws:lambda:{REGION}:"),
]


@pytest.mark.parametrize(("value", "expected"), REFS)
def test_key_references(value: str, expected: KeyRef | str) -> None:
    if isinstance(expected, KeyRef):
        assert parse_key_ref(value, ACCOUNT, REGION) == expected
        return
    with pytest.raises(KeyNotFound) as raised:
        parse_key_ref(value, ACCOUNT, REGION)
    assert raised.value.message.startswith(expected)


PREFIX = (
    'Alias must start with the prefix "alias/". Please see '
    "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
)
ALIAS_NAMES: list[tuple[str, type[AwsError] | None, str]] = [
    ("alias/my-key", None, ""),
    ("alias/team/app_1", None, ""),
    ("my-key", ValidationError, PREFIX),
    ("alias/", InvalidAliasName, "Alias name alias/ is not valid."),
    ("alias/a:b", ValidationError, "alias/a:b contains invalid characters for an alias"),
    ("alias/aws/lambda", NotAuthorized, ""),
    ("alias/aws/mine", NotAuthorized, ""),
]


@pytest.mark.parametrize(("name", "error", "message"), ALIAS_NAMES)
def test_alias_names(name: str, error: type[AwsError] | None, message: str) -> None:
    if error is None:
        check_alias_name(name)
        return
    with pytest.raises(error) as raised:
        check_alias_name(name)
    assert raised.value.message == message


@pytest.mark.parametrize(
    ("target", "allowed"),
    [(KEY_ID, True), (ARN, True), ("alias/x", False), (f"arn:aws:kms:{REGION}:1:alias/x", False)],
)
def test_an_alias_names_a_key_never_another_alias(target: str, allowed: bool) -> None:
    if allowed:
        check_alias_target(target)
        return
    with pytest.raises(ValidationError, match=r"^Aliases must refer to keys\. Not aliases$"):
        check_alias_target(target)


def test_tags_merge_and_aws_prefix_is_reserved() -> None:
    tags = tagged([("a", "1")], [("b", "2"), ("a", "3")])
    assert tags == (("a", "3"), ("b", "2"))
    assert untagged(tags, ["a", "missing"]) == (("b", "2"),)
    with pytest.raises(TagRejected, match="Tags beginning with aws: are reserved"):
        tagged((), [("AWS:x", "y")])


@pytest.mark.parametrize(
    ("spec", "usage", "origin", "multi_region"),
    [
        ("RSA_2048", "ENCRYPT_DECRYPT", "AWS_KMS", False),
        ("SYMMETRIC_DEFAULT", "GENERATE_VERIFY_MAC", "AWS_KMS", False),
        ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "EXTERNAL", False),
        ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "AWS_KMS", True),
    ],
)
def test_only_symmetric_kms_keys(spec: str, usage: str, origin: str, multi_region: bool) -> None:
    check_key_spec("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "AWS_KMS", False)
    with pytest.raises(UnsupportedKeyOperation):
        check_key_spec(spec, usage, origin, multi_region)


# --- the envelope -------------------------------------------------------------------------------


def sealed(context: dict[str, str] | None = None, version: int = 1) -> bytes:
    return envelope.seal(MATERIAL, NONCE, KEY_ID, ACCOUNT, REGION, version, b"secret", context)


def test_an_envelope_names_its_key_and_opens_with_its_context() -> None:
    blob = sealed({"b": "2", "a": "1"}, version=7)
    parsed = envelope.parse(blob)
    assert (parsed.key_id, parsed.account, parsed.region, parsed.material_version) == (
        KEY_ID,
        ACCOUNT,
        REGION,
        7,
    )
    # The context is bound whatever order it is written in.
    assert envelope.open_sealed(MATERIAL, parsed, {"a": "1", "b": "2"}) == b"secret"


@pytest.mark.parametrize(
    "context", [None, {}, {"a": "1"}, {"a": "2", "b": "2"}, {"b": "2"}], ids=repr
)
def test_a_different_context_does_not_open(context: dict[str, str] | None) -> None:
    blob = sealed({"a": "1", "b": "2"})
    with pytest.raises(InvalidCiphertext):
        envelope.open_sealed(MATERIAL, envelope.parse(blob), context)


def test_other_material_does_not_open() -> None:
    with pytest.raises(InvalidCiphertext):
        envelope.open_sealed(bytes(32), envelope.parse(sealed()), None)


def _open(blob: bytes) -> bytes:
    return envelope.open_sealed(MATERIAL, envelope.parse(blob), None)


@pytest.mark.parametrize("position", range(len(sealed())))
def test_changing_any_byte_is_invalid_ciphertext(position: int) -> None:
    blob = bytearray(sealed())
    blob[position] ^= 0x01
    with pytest.raises(InvalidCiphertext) as raised:
        _open(bytes(blob))
    assert raised.value.message == ""


@pytest.mark.parametrize("length", [0, 1, 4, 5, 20, 60, len(sealed()) - 1])
def test_truncated_ciphertext_is_invalid(length: int) -> None:
    with pytest.raises(InvalidCiphertext):
        _open(sealed()[:length])


@pytest.mark.parametrize(
    "blob",
    [b"not a ciphertext at all", b"\x01GK\x02" + bytes(80), b"\x01GK\x01\x00" + bytes(80)],
)
def test_foreign_blobs_are_invalid(blob: bytes) -> None:
    with pytest.raises(InvalidCiphertext):
        envelope.parse(blob)


def test_the_account_in_the_header_is_authenticated() -> None:
    # A ciphertext relabelled to another account does not open even with the right material.
    blob = sealed()
    forged = blob.replace(ACCOUNT.encode(), b"210987654321")
    assert envelope.parse(forged).account == "210987654321"
    with pytest.raises(InvalidCiphertext):
        _open(forged)


def test_wrapped_material_opens_only_under_its_root_and_label() -> None:
    root = bytes(range(1, 33))
    label = envelope.material_label(ACCOUNT, REGION, KEY_ID, 1)
    wrapped = envelope.wrap(root, NONCE, label, MATERIAL)
    assert MATERIAL not in wrapped
    assert envelope.unwrap(root, label, wrapped) == MATERIAL
    assert envelope.unwrap(bytes(32), label, wrapped) is None
    other = envelope.material_label(ACCOUNT, REGION, KEY_ID, 2)
    assert envelope.unwrap(root, other, wrapped) is None
    assert envelope.unwrap(root, label, wrapped[:5]) is None
