"""The outbox holds round frames until the arena is known to have them."""

from __future__ import annotations

from gambiarra.domain.outbox import Outbox


def write_all(outbox: Outbox) -> list[bytes]:
    return outbox.take(len(outbox) + 1)  # everything queued, as the writer takes it


def test_frames_are_written_once_in_order() -> None:
    outbox = Outbox()
    for frame in (b"a", b"b", b"c"):
        outbox.add(frame)
    assert write_all(outbox) == [b"a", b"b", b"c"]
    assert write_all(outbox) == []


def test_after_a_reconnect_everything_unconfirmed_is_written_again() -> None:
    """A frame written to a link that died may not have arrived: write it again."""
    outbox = Outbox()
    for frame in (b"t0", b"t1", b"t2"):
        outbox.add(frame)
    write_all(outbox)
    outbox.confirm(1)  # a pong proved t0 arrived
    outbox.add(b"t3")  # produced while the link was down
    assert outbox.rewind() == 3
    assert write_all(outbox) == [b"t1", b"t2", b"t3"]


def test_a_confirmation_mark_covers_only_what_was_written_before_it() -> None:
    outbox = Outbox()
    outbox.add(b"a")
    mark = (write_all(outbox), outbox.written_mark)[1]
    outbox.add(b"b")
    write_all(outbox)
    outbox.confirm(mark)
    assert outbox.unconfirmed == 1
    outbox.rewind()
    assert write_all(outbox) == [b"b"]


def test_past_the_limit_bounded_frames_are_refused_and_others_kept() -> None:
    outbox = Outbox(limit=2)
    assert outbox.add(b"t0")
    assert outbox.add(b"t1")
    assert not outbox.add(b"t2")
    assert outbox.add(b"complete", bounded=False)
    assert outbox.refused == 1
    assert write_all(outbox) == [b"t0", b"t1", b"complete"]


def test_clear_forgets_a_dead_sessions_frames() -> None:
    outbox = Outbox()
    outbox.add(b"old")
    outbox.clear()
    outbox.add(b"new")
    outbox.rewind()
    assert write_all(outbox) == [b"new"]


def test_resume_replaces_a_rounds_frames_with_exactly_what_the_arena_lacks() -> None:
    """The arena says it holds 2 tokens of round 1: write from seq 2, nothing twice."""
    outbox = Outbox()
    outbox.add(b"r0-complete", round=0)
    for frame in (b"t0", b"t1", b"t2"):
        outbox.add(frame, round=1)
    write_all(outbox)
    outbox.confirm(2)  # r0-complete and t0 are confirmed
    assert outbox.resume(1, [b"t2", b"t3"]) == 2
    assert write_all(outbox) == [b"t2", b"t3"]


def test_resume_keeps_other_rounds_unconfirmed_frames_first() -> None:
    outbox = Outbox()
    outbox.add(b"r0-complete", round=0)
    outbox.add(b"t0", round=1)
    write_all(outbox)
    outbox.resume(1, [b"t0", b"t1"])
    assert write_all(outbox) == [b"r0-complete", b"t0", b"t1"]


def test_find_and_end_give_absolute_ids() -> None:
    outbox = Outbox()
    complete = b"complete"
    for frame in (b"a", b"b", complete):
        outbox.add(frame)
    outbox.confirm(1)
    assert outbox.find(complete) == 2
    assert outbox.end == 3


def test_take_gives_the_next_frames_in_order_and_counts_them_written() -> None:
    outbox = Outbox()
    for frame in (b"a", b"b", b"c"):
        outbox.add(frame)
    assert outbox.take(2) == [b"a", b"b"]
    assert outbox.written_mark == 2
    assert outbox.take(10) == [b"c"]
    assert outbox.take(10) == []
    outbox.confirm(1)
    assert outbox.rewind() == 2
    assert outbox.take(10) == [b"b", b"c"]


def test_a_confirmation_beyond_the_written_frames_forgets_those_too() -> None:
    """A mark covers ids, written on this link or not (a resumed round's old frames)."""
    outbox = Outbox()
    for frame in (b"a", b"b", b"c", b"d"):
        outbox.add(frame)
    outbox.take(1)
    outbox.confirm(3)
    assert outbox.unconfirmed == 1
    assert outbox.take(10) == [b"d"]
