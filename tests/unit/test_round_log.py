"""The round log keeps every frame of the round in play, confirmed or not."""

from __future__ import annotations

from gambiarra.domain.round_log import RoundLog


def test_frames_from_any_seq_with_or_without_the_final_frame() -> None:
    log = RoundLog()
    for seq, text in enumerate(["Era", " uma", " vez"]):
        log.token(1, seq, text, f"t{seq}".encode())
    log.finish(1, b"complete", complete=True)
    assert log.text == "Era uma vez"
    assert log.frames_from(0, final=True) == [b"t0", b"t1", b"t2", b"complete"]
    assert log.frames_from(2, final=False) == [b"t2"]


def test_a_new_round_starts_a_new_log() -> None:
    log = RoundLog()
    log.token(1, 0, "a", b"a")
    log.finish(1, b"c1", complete=True)
    log.token(2, 0, "b", b"b")
    assert (log.round, log.text, log.final) == (2, "b", None)


def test_a_gap_or_the_limit_marks_the_log_incomplete() -> None:
    log = RoundLog(limit=2)
    for seq in range(3):
        log.token(1, seq, "x", b"x")
    assert not log.complete
    gap = RoundLog()
    gap.token(1, 1, "x", b"x")
    assert not gap.complete
