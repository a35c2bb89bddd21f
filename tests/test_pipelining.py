"""Working one frame ahead: results in order, errors where they happened, nothing left running."""

from __future__ import annotations

import threading

import pytest

from landmark_emotion.reading.pipelining import ahead


def test_results_come_in_order_with_their_items():
    with ahead(range(50), lambda i: i * i) as results:
        assert list(results) == [(i, i * i) for i in range(50)]


def test_the_next_item_is_computed_while_the_caller_works_on_this_one():
    second_started = threading.Event()

    def fn(i: int) -> int:
        if i == 1:
            second_started.set()
        return i

    with ahead(range(3), fn) as results:
        first = next(results)
        # still holding item 0: only a worker running ahead can have started item 1
        assert second_started.wait(timeout=10), "item 1 was not started while item 0 was being used"
        assert first == (0, 0)


def test_an_error_of_the_worker_is_raised_at_its_item():
    def fn(i: int) -> int:
        if i == 3:
            raise ValueError("bad frame 3")
        return i

    seen = []
    with pytest.raises(ValueError, match="bad frame 3"):
        with ahead(range(10), fn) as results:
            for item, _ in results:
                seen.append(item)
    assert seen == [0, 1, 2]


def test_leaving_early_stops_the_worker_before_the_block_ends():
    calls = []
    with ahead(range(10_000), calls.append) as results:
        for item, _ in results:
            if item == 5:
                break
    done = len(calls)
    assert [t for t in threading.enumerate() if t.name == "work-ahead"] == []
    assert done < 10_000 and len(calls) == done  # nothing computed after the block: its resources may close
