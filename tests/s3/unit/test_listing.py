"""ListObjectsV2's pages, pure: prefixes, delimiters, max-keys and continuation tokens."""

from __future__ import annotations

import pytest

from gureum.s3.domain.errors import InvalidArgument
from gureum.s3.domain.listing import Resume, decode_token, encode_token, page, start_of
from gureum.s3.domain.objects import ObjectHeaders, StoredObject


def objects(*keys: str) -> list[StoredObject]:
    return [StoredObject("b", k, "0" * 32, 0, '""', 0.0, ObjectHeaders()) for k in sorted(keys)]


KEYS = objects("a/1", "a/2", "a/b/3", "b/1", "c", "d")


def after(resume: Resume | None, items: list[StoredObject]) -> list[StoredObject]:
    """What the store hands a page that resumes at `resume`."""
    return [o for o in items if resume is None or o.key > resume.after]


def keys_of(items: list[StoredObject]) -> list[str]:
    return [o.key for o in items]


def test_a_delimiter_rolls_keys_up_into_common_prefixes() -> None:
    listed = page(KEYS, "", "/", 1000, None)
    assert listed.common_prefixes == ["a/", "b/"]
    assert keys_of(listed.contents) == ["c", "d"]
    assert not listed.truncated


def test_a_prefix_and_a_delimiter() -> None:
    listed = page([o for o in KEYS if o.key.startswith("a/")], "a/", "/", 1000, None)
    assert listed.common_prefixes == ["a/b/"]
    assert keys_of(listed.contents) == ["a/1", "a/2"]


@pytest.mark.parametrize("max_keys", [1, 2, 3, 5])
def test_pages_join_up_to_the_whole_listing(max_keys: int) -> None:
    seen: list[str] = []
    token = None
    while True:
        resume = start_of(token, None)
        listed = page(after(resume, KEYS), "", "/", max_keys, resume)
        assert len(listed.contents) + len(listed.common_prefixes) <= max_keys
        seen += listed.common_prefixes + keys_of(listed.contents)
        if not listed.truncated:
            break
        token = listed.next_token
    assert sorted(seen) == ["a/", "b/", "c", "d"]


def test_a_page_after_a_common_prefix_skips_every_key_under_it() -> None:
    first = page(KEYS, "", "/", 1, None)
    assert first.common_prefixes == ["a/"]
    resume = decode_token(first.next_token or "")
    assert resume == Resume("a/", True)
    second = page(after(resume, KEYS), "", "/", 1, resume)
    assert second.common_prefixes == ["b/"]


def test_zero_max_keys_lists_nothing() -> None:
    listed = page(KEYS, "", None, 0, None)
    assert (listed.contents, listed.truncated) == ([], True)


def test_tokens_round_trip_and_garbage_is_refused() -> None:
    for resume in (Resume("k/é"), Resume("p/", True)):
        assert decode_token(encode_token(resume)) == resume
    for garbage in ("!!!", "", encode_token(Resume("x"))[:-4] + "@@@@"):
        with pytest.raises(InvalidArgument):
            decode_token(garbage)


def test_start_after_is_used_without_a_token() -> None:
    assert start_of(None, "b") == Resume("b")
    assert start_of(encode_token(Resume("c")), "b") == Resume("c")
