# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of module_utils/_locking.py: one holder at a time, a clear timeout, no file left behind."""

from __future__ import annotations

import os
import stat
import threading
import time
import typing as t

import pytest

from ansible_collections.izuma.device_management.plugins.module_utils import _locking as locking
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaError


def test_the_lock_file_is_0600_while_held_and_gone_after(tmp_path: t.Any) -> None:
    target = str(tmp_path / "signing.key")
    with locking.exclusive_lock(target, timeout=1) as name:
        assert name == target + ".lock"
        assert stat.S_IMODE(os.stat(name).st_mode) == 0o600
    assert os.listdir(tmp_path) == []


def test_a_second_holder_times_out_with_a_message_naming_the_option_and_the_file(tmp_path: t.Any) -> None:
    target = str(tmp_path / "signing.key")
    with locking.exclusive_lock(target, timeout=1):
        with pytest.raises(IzumaError) as info:
            with locking.exclusive_lock(target, timeout=0.2, what="the key 'signing'"):
                pytest.fail("two holders at once")  # pragma: no cover
    message = str(info.value)
    assert "lock_timeout=0.2" in message and target + ".lock" in message and "the key 'signing'" in message


def test_holders_take_turns_and_none_overlaps(tmp_path: t.Any) -> None:
    # Each holder removes the file before unlocking; waiters must notice and lock the new one, never two at once.
    target = str(tmp_path / "signing.key")
    inside: t.List[int] = []
    overlaps: t.List[int] = []
    done: t.List[int] = []

    def worker(number: int) -> None:
        for _round in range(20):
            with locking.exclusive_lock(target, timeout=30):
                if inside:
                    overlaps.append(number)
                inside.append(number)
                time.sleep(0.002)  # long enough for a broken lock to let another thread in
                inside.remove(number)
        done.append(number)

    threads = [threading.Thread(target=worker, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(done) == [0, 1, 2, 3] and overlaps == []
    assert os.listdir(tmp_path) == []


def test_a_waiter_on_a_removed_lock_file_does_not_get_in_beside_the_next_holder(tmp_path: t.Any) -> None:
    # B waits on the file A holds; A removes it and unlocks; C at once creates and locks a new one. B then holds the
    # lock of a file that is gone, and must start again on C's file instead of running beside C.
    target = str(tmp_path / "signing.key")
    entered = threading.Event()

    def waiter() -> None:
        with locking.exclusive_lock(target, timeout=30):
            entered.set()

    with locking.exclusive_lock(target, timeout=1):
        thread = threading.Thread(target=waiter)
        thread.start()
        time.sleep(0.3)  # B has opened the lock file and polls it
    with locking.exclusive_lock(target, timeout=1):
        assert not entered.wait(0.5), "a waiter got in beside the holder"
    thread.join(10)
    assert entered.is_set()


def test_no_lock_and_no_write_when_the_directory_is_missing(tmp_path: t.Any) -> None:
    with locking.exclusive_lock(str(tmp_path / "missing" / "signing.key")) as name:
        assert name == ""
    assert os.listdir(tmp_path) == []


def test_a_symlinked_lock_file_is_refused(tmp_path: t.Any) -> None:
    target = str(tmp_path / "signing.key")
    os.symlink(str(tmp_path / "elsewhere"), target + ".lock")
    with pytest.raises(IzumaError, match="symbolic link"):
        with locking.exclusive_lock(target):
            pytest.fail("locked through a symlink")  # pragma: no cover
    assert not os.path.exists(tmp_path / "elsewhere")
