"""The round state machine, driven by events with no event loop."""

from __future__ import annotations

import msgspec
import pytest

from gambiarra.domain.events import (
    Action,
    CancelGeneration,
    ChallengeReceived,
    DeadlinePassed,
    Event,
    GenerationRequest,
    Outcome,
    RoundEnded,
    RunnerFailed,
    RunnerFinished,
    Send,
    SessionEnded,
    StartGeneration,
    TokenProduced,
)
from gambiarra.domain.protocol import Challenge, Complete, ErrorReport, ModelInfo, Token
from gambiarra.domain.round import Fallbacks, Phase, RoundMachine
from gambiarra.errors import RoundStateError

INFO = ModelInfo(name="llama3.1:8b", runner="ollama")


def machine() -> RoundMachine:
    return RoundMachine("ana-pc", INFO, Fallbacks(max_tokens=50, temperature=0.5))


def challenge_at(at: float, round: int = 1, **fields: object) -> ChallengeReceived:
    return ChallengeReceived(Challenge(round=round, prompt="haicai", **fields), at=at)  # type: ignore[arg-type]


def feed(m: RoundMachine, *events: Event) -> list[Action]:
    return [action for event in events for action in m.handle(event)]


def sent(actions: list[Action]) -> list[object]:
    return [a.message for a in actions if isinstance(a, Send)]


def test_challenge_starts_generation_with_the_challenge_parameters() -> None:
    """The challenge's own max_tokens, temperature (even 0) and seed reach the model."""
    actions = feed(
        machine(), challenge_at(2.0, max_tokens=7, temperature=0.0, seed=42, deadline_ms=1500)
    )
    assert actions == [
        StartGeneration(
            GenerationRequest(
                round=1, prompt="haicai", max_tokens=7, temperature=0.0, seed=42, deadline_at=3.5
            )
        )
    ]


def test_fallbacks_apply_only_when_the_challenge_omits_them() -> None:
    (start,) = feed(machine(), challenge_at(0.0))
    assert isinstance(start, StartGeneration)
    assert (start.request.max_tokens, start.request.temperature, start.request.seed) == (
        50,
        0.5,
        None,
    )
    assert start.request.deadline_at is None


def test_tokens_get_consecutive_seq_from_zero_and_empty_pieces_are_skipped() -> None:
    m = machine()
    actions = feed(
        m,
        challenge_at(0.0),
        TokenProduced(1, "Era", 0.1),
        TokenProduced(1, "", 0.15),
        TokenProduced(1, " uma", 0.2),
    )
    assert sent(actions) == [
        Token(round=1, participant_id="ana-pc", seq=0, content="Era"),
        Token(round=1, participant_id="ana-pc", seq=1, content=" uma"),
    ]


def test_finishing_sends_one_complete_with_metrics() -> None:
    m = machine()
    actions = feed(
        m,
        challenge_at(10.0),
        TokenProduced(1, "a", 10.4),
        TokenProduced(1, "b", 10.5),
        RunnerFinished(1, 12.0),
    )
    complete = sent(actions)[-1]
    assert complete == Complete(
        round=1,
        participant_id="ana-pc",
        tokens=2,
        duration_ms=2000,
        model_info=INFO,
        latency_ms_first_token=400,
    )
    assert isinstance(actions[-1], RoundEnded)
    assert actions[-1].outcome is Outcome.FINISHED
    assert m.phase is Phase.DONE


def test_a_round_without_tokens_completes_without_latency() -> None:
    actions = feed(machine(), challenge_at(0.0), RunnerFinished(1, 1.0))
    (complete,) = sent(actions)
    assert isinstance(complete, Complete)
    assert complete.tokens == 0
    assert complete.latency_ms_first_token is msgspec.UNSET


def test_runner_failure_sends_an_error_with_the_servers_message() -> None:
    actions = feed(machine(), challenge_at(0.0), RunnerFailed(1, "model 'x' not found", 0.3))
    assert sent(actions) == [
        ErrorReport(
            round=1,
            participant_id="ana-pc",
            code="GENERATION_FAILED",
            message="model 'x' not found",
        )
    ]
    assert isinstance(actions[-1], RoundEnded)
    assert actions[-1].outcome is Outcome.FAILED


def test_a_blank_failure_message_still_gives_a_non_empty_error() -> None:
    (report,) = sent(feed(machine(), challenge_at(0.0), RunnerFailed(1, "  ", 0.3)))
    assert isinstance(report, ErrorReport)
    assert report.message.strip()


def test_deadline_cancels_and_completes_and_later_tokens_are_dropped() -> None:
    """A round that times out is cancelled and still reported as complete."""
    m = machine()
    actions = feed(m, challenge_at(0.0), TokenProduced(1, "a", 0.2), DeadlinePassed(1, 0.5))
    assert isinstance(actions[-3], CancelGeneration)
    assert isinstance(actions[-2], Send)
    assert isinstance(actions[-2].message, Complete)
    assert m.handle(TokenProduced(1, "late", 0.6)) == []
    assert m.handle(RunnerFinished(1, 0.7)) == []


def test_new_challenge_supersedes_the_round_in_progress() -> None:
    """A new challenge means the previous round is over: complete it, start the next."""
    m = machine()
    feed(m, challenge_at(0.0, round=1), TokenProduced(1, "a", 0.1))
    actions = m.handle(challenge_at(1.0, round=2))
    assert [type(a) for a in actions] == [CancelGeneration, Send, RoundEnded, StartGeneration]
    assert isinstance(actions[1], Send)
    assert isinstance(actions[1].message, Complete)
    assert actions[1].message.round == 1
    assert actions[1].message.tokens == 1
    assert m.handle(TokenProduced(1, "late", 1.1)) == []
    (token,) = sent(m.handle(TokenProduced(2, "b", 1.2)))
    assert token == Token(round=2, participant_id="ana-pc", seq=0, content="b")


def test_duplicate_challenge_is_ignored() -> None:
    m = machine()
    feed(m, challenge_at(0.0), TokenProduced(1, "a", 0.1))
    assert m.handle(challenge_at(0.5)) == []
    (token,) = sent(m.handle(TokenProduced(1, "b", 0.6)))
    assert isinstance(token, Token)
    assert token.seq == 1


def test_seq_restarts_at_zero_for_each_round() -> None:
    m = machine()
    feed(m, challenge_at(0.0, round=1), TokenProduced(1, "a", 0.1), RunnerFinished(1, 0.2))
    (token,) = sent(feed(m, challenge_at(1.0, round=2), TokenProduced(2, "b", 1.1)))
    assert isinstance(token, Token)
    assert (token.round, token.seq) == (2, 0)


def test_same_round_index_in_a_new_session_is_a_new_round() -> None:
    """The TypeScript server counts from 1 in each session."""
    m = machine()
    feed(m, challenge_at(0.0, session_id="s1"), RunnerFinished(1, 0.1))
    actions = m.handle(challenge_at(1.0, session_id="s2"))
    assert [type(a) for a in actions] == [StartGeneration]


def test_token_before_any_challenge_is_a_bug() -> None:
    with pytest.raises(RoundStateError):
        machine().handle(TokenProduced(1, "a", 0.0))


def test_session_end_cancels_the_round_and_late_events_are_dropped() -> None:
    """A replaced session takes its rounds along: no complete for a dead session."""
    m = machine()
    feed(m, challenge_at(0.0), TokenProduced(1, "a", 0.1))
    assert m.handle(SessionEnded(at=0.2)) == [CancelGeneration(1)]
    assert m.handle(TokenProduced(1, "late", 0.3)) == []
    assert m.handle(RunnerFinished(1, 0.4)) == []
    assert [type(a) for a in m.handle(challenge_at(1.0))] == [StartGeneration]
