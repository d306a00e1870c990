from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from clipfeed.core import ids
from clipfeed.core.ids import IdGenerator, id_node, id_time, min_id_at


def test_ids_increase_strictly_within_one_generator() -> None:
    gen = IdGenerator(7)
    values = [gen.next_id() for _ in range(50_000)] + gen.next_ids(50_000)
    assert all(a < b for a, b in zip(values, values[1:], strict=False))


def test_ids_fit_a_signed_bigint_and_carry_node_and_time() -> None:
    gen = IdGenerator(1023)
    value = gen.next_id()
    assert 0 < value < 2**63
    assert id_node(value) == 1023
    assert abs(id_time(value) - datetime.now(UTC)) < timedelta(seconds=2)


def test_ids_from_different_nodes_never_collide_even_in_the_same_millisecond() -> None:
    a, b = IdGenerator(1), IdGenerator(2)
    assert not set(a.next_ids(10_000)) & set(b.next_ids(10_000))


def test_ids_stay_monotonic_when_the_clock_steps_back(monkeypatch: pytest.MonkeyPatch) -> None:
    gen = IdGenerator(3)
    first = gen.next_id()
    real = time.time_ns
    monkeypatch.setattr(ids.time, "time_ns", lambda: real() - 5_000_000_000)
    later = [gen.next_id() for _ in range(10)]
    assert all(v > first for v in later)
    assert later == sorted(set(later))


def test_sequence_overflow_borrows_the_next_millisecond(monkeypatch: pytest.MonkeyPatch) -> None:
    frozen = time.time_ns()
    monkeypatch.setattr(ids.time, "time_ns", lambda: frozen)
    gen = IdGenerator(4)
    values = [gen.next_id() for _ in range(ids.MAX_SEQUENCE + 10)]
    assert len(set(values)) == len(values)
    assert id_time(values[-1]) > id_time(values[0])


def test_threads_sharing_a_generator_get_unique_ids() -> None:
    gen = IdGenerator(5)
    out: list[list[int]] = [[] for _ in range(4)]

    def work(slot: int) -> None:
        out[slot] = [gen.next_id() for _ in range(20_000)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    merged = [v for chunk in out for v in chunk]
    assert len(set(merged)) == len(merged)


def test_min_id_at_bounds_ids_made_after_a_moment() -> None:
    moment = datetime.now(UTC)
    assert IdGenerator(9).next_id() >= min_id_at(moment - timedelta(milliseconds=1))


def test_node_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError):
        IdGenerator(1024)
