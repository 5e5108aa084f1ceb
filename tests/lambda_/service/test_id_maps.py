"""The id-map keeper: user namespaces with the maps asked for, made once and held open."""

from __future__ import annotations

import os
import re

import pytest

from gureum.lambda_.sandbox.id_maps import IdMaps

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="user namespace maps need root")


def test_namespaces_with_the_maps_asked_for() -> None:
    maps = IdMaps()
    try:
        maps.start()
        path = maps.path([(1001, 71001, 1)], [(1002, 71001, 1)])
        assert path is not None
        assert re.fullmatch(r"/proc/\d+/fd/\d+", path)
        assert maps.path([(1001, 71001, 1)], [(1002, 71001, 1)]) == path  # held, not made again
        other = maps.path([(1001, 71002, 1)], [(1002, 71002, 1)])
        assert other not in (None, path)
        # The path names a user namespace, not ours.
        assert os.stat(path).st_ino != os.stat("/proc/self/ns/user").st_ino
    finally:
        maps.close()


def test_a_dead_keeper_is_started_again() -> None:
    maps = IdMaps()
    try:
        maps.start()
        first = maps.path([(1001, 71003, 1)], [(1001, 71003, 1)])
        maps.close()
        again = maps.path([(1001, 71003, 1)], [(1001, 71003, 1)])
        assert first is not None
        assert again is not None
        assert again != first  # another keeper's process
    finally:
        maps.close()


def test_answers_taken_out_of_order() -> None:
    """Environments ask as their spawn begins and take the answer later, in any order."""
    maps = IdMaps()
    try:
        first = maps.ask([(1001, 71010, 1)], [(1001, 71010, 1)])
        second = maps.ask([(1001, 71011, 1)], [(1001, 71011, 1)])
        later = maps.answer(second)
        earlier = maps.answer(first)
        assert later is not None
        assert earlier is not None
        assert later != earlier
        assert maps.path([(1001, 71010, 1)], [(1001, 71010, 1)]) == earlier  # held
        maps.close()
        assert maps.answer(first) is None  # a ticket of a keeper that is gone
    finally:
        maps.close()
