"""After a registration: join a running round, or resume ours at the arena's seq."""

from __future__ import annotations

from gambiarra.domain.rejoin import OurRound, PlayRound, ResumeAt, RoundOnArena, after_registration

STARTED = 1_795_652_961_748  # server clock, epoch ms


def running(**overrides: object) -> RoundOnArena:
    base = {
        "round_id": "r-3",
        "index": 3,
        "prompt": "Escreva um haicai",
        "started_at_ms": STARTED,
        "session_id": "s1",
        "max_tokens": 40,
        "temperature": 0.0,
        "deadline_ms": 30_000,
        "seed": 7,
    }
    base.update(overrides)
    return RoundOnArena(**base)  # type: ignore[arg-type]


def test_a_round_we_never_got_is_played_with_only_the_time_left() -> None:
    decision = after_registration(running(), STARTED + 2_000, None)
    assert isinstance(decision, PlayRound)
    assert decision.left_ms == 28_000
    challenge = decision.challenge
    assert (challenge.round, challenge.prompt, challenge.session_id) == (
        3,
        "Escreva um haicai",
        "s1",
    )
    assert (challenge.max_tokens, challenge.temperature, challenge.seed) == (40, 0.0, 7)
    assert challenge.deadline_ms == 28_000


def test_the_time_left_is_computed_in_the_server_clock_only() -> None:
    """Only server times are compared: a round started 40 s ago with 30 s is over."""
    assert after_registration(running(), STARTED + 40_000, None) is None


def test_a_round_about_to_end_is_not_joined() -> None:
    assert after_registration(running(), STARTED + 29_500, None) is None


def test_our_own_round_resumes_at_the_seq_the_arena_holds() -> None:
    decision = after_registration(running(held=25), STARTED + 5_000, OurRound(3, "s1"))
    assert decision == ResumeAt(3, 25, "r-3")


def test_a_restarted_arena_holding_nothing_resumes_at_zero() -> None:
    decision = after_registration(running(held=0), STARTED + 5_000, OurRound(3, "s1"))
    assert decision == ResumeAt(3, 0, "r-3")


def test_our_round_resumes_even_past_its_deadline() -> None:
    """Our answer is already under way: finishing it is not joining late."""
    decision = after_registration(running(held=9), STARTED + 99_000, OurRound(3, "s1"))
    assert decision == ResumeAt(3, 9, "r-3")


def test_a_newer_round_than_ours_is_joined() -> None:
    """A round started while we were away: we never got its challenge."""
    decision = after_registration(running(index=4), STARTED + 1_000, OurRound(3, "s1"))
    assert isinstance(decision, PlayRound)
    assert decision.challenge.round == 4


def test_the_same_index_in_another_session_is_not_ours() -> None:
    decision = after_registration(running(session_id="s2"), STARTED + 1_000, OurRound(3, "s1"))
    assert isinstance(decision, PlayRound)


def test_a_round_an_earlier_run_already_played_is_left_alone() -> None:
    """The arena holds tokens of ours that this process never sent."""
    assert after_registration(running(held=12), STARTED + 1_000, None) is None


def test_no_round_running_means_nothing_to_do() -> None:
    assert after_registration(None, STARTED, OurRound(3, "s1")) is None


def test_a_round_without_deadline_uses_the_arena_default() -> None:
    decision = after_registration(running(deadline_ms=None), STARTED + 60_000, None)
    assert isinstance(decision, PlayRound)
    assert decision.left_ms == 30_000
