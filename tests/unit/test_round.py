"""The round state machine, driven by events with no event loop."""

from __future__ import annotations

import msgspec
import pytest

from gambiarra.domain.events import (
    Action,
    CancelGeneration,
    ChallengeReceived,
    DeadlinePassed,
    DeliveryRefused,
    DrawingStillOpen,
    Event,
    GenerationRequest,
    ModelReported,
    Outcome,
    RoundDetailsLearned,
    RoundEnded,
    RunnerFailed,
    RunnerFinished,
    Send,
    SessionEnded,
    StartGeneration,
    TokenProduced,
)
from gambiarra.domain.metrics import ModelFigures
from gambiarra.domain.protocol import (
    Challenge,
    Complete,
    ErrorReport,
    ModelInfo,
    Token,
    encode_client,
)
from gambiarra.domain.round import (
    MAX_ERROR_CHARS,
    MAX_TOKEN_CHARS,
    Fallbacks,
    Phase,
    RoundMachine,
)
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


def tokens(actions: list[Action]) -> list[Token]:
    return [m for m in sent(actions) if isinstance(m, Token)]


def completes(actions: list[Action]) -> list[Complete]:
    return [m for m in sent(actions) if isinstance(m, Complete)]


def test_a_piece_too_big_for_one_frame_is_split_and_counted_once() -> None:
    """Frames stay far under the arena's 1 MiB; the piece is one model token."""
    big = "🎉ã" * (MAX_TOKEN_CHARS + 7)  # 2 * 64 Ki + 14 characters: three frames
    actions = feed(
        machine(),
        challenge_at(0.0),
        TokenProduced(1, "Era", 0.1),
        TokenProduced(1, big, 0.2),
        TokenProduced(1, "!", 0.3),
        RunnerFinished(1, 0.4),
    )
    frames = tokens(actions)
    assert [t.seq for t in frames] == [0, 1, 2, 3, 4]
    assert "".join(t.content for t in frames) == "Era" + big + "!"
    assert [len(t.content) for t in frames[1:4]] == [MAX_TOKEN_CHARS, MAX_TOKEN_CHARS, 14]
    assert max(len(encode_client(t)) for t in frames) < 1 << 19
    (complete,) = completes(actions)
    assert complete.tokens == 3


@pytest.mark.parametrize("char", ["\x01", '"', "🎉", "ã", "x"])
def test_split_frames_stay_far_under_a_mebibyte_whatever_the_text(char: str) -> None:
    """JSON escaping makes a character at most 6 bytes: \\u0001 is the worst case."""
    text = char * (MAX_TOKEN_CHARS * 3 + 1)
    frames = tokens(feed(machine(), challenge_at(0.0), TokenProduced(1, text, 0.1)))
    assert len(frames) == 4
    assert "".join(t.content for t in frames) == text
    assert max(len(encode_client(t)) for t in frames) < 1 << 19


def test_the_max_tokens_th_piece_is_sent_then_the_generation_is_stopped() -> None:
    """The arena enforces no max_tokens: the client cancels and completes at once."""
    m = machine()
    feed(m, challenge_at(0.0, max_tokens=3), TokenProduced(1, "a", 0.1), TokenProduced(1, "b", 0.2))
    actions = m.handle(TokenProduced(1, "c", 0.3))
    assert [type(a) for a in actions] == [Send, CancelGeneration, Send, RoundEnded]
    assert tokens(actions) == [Token(round=1, participant_id="ana-pc", seq=2, content="c")]
    assert actions[1] == CancelGeneration(1)
    (complete,) = completes(actions)
    assert (complete.tokens, complete.duration_ms) == (3, 300)
    assert isinstance(actions[-1], RoundEnded)
    assert actions[-1].outcome is Outcome.FINISHED
    assert m.handle(TokenProduced(1, "d", 0.4)) == []
    assert m.handle(RunnerFinished(1, 0.5)) == []


def test_the_token_budget_counts_pieces_not_frames() -> None:
    big = "x" * (MAX_TOKEN_CHARS * 2)
    actions = feed(
        machine(), challenge_at(0.0, max_tokens=2), TokenProduced(1, big, 0.1),
        TokenProduced(1, "y", 0.2),
    )  # fmt: skip
    assert [t.seq for t in tokens(actions)] == [0, 1, 2]
    (complete,) = completes(actions)
    assert complete.tokens == 2


def test_max_tokens_zero_sends_nothing_and_a_negative_one_means_no_limit() -> None:
    actions = feed(machine(), challenge_at(0.0, max_tokens=0), TokenProduced(1, "a", 0.1))
    assert tokens(actions) == []
    assert [c.tokens for c in completes(actions)] == [0]
    assert CancelGeneration(1) in actions
    pieces = [TokenProduced(1, "a", 0.1 + i / 1000) for i in range(500)]
    actions = feed(machine(), challenge_at(0.0, max_tokens=-1), *pieces)
    assert len(tokens(actions)) == 500
    assert completes(actions) == []


def test_a_token_after_the_deadline_is_dropped_and_ends_the_round() -> None:
    """A burst read after the deadline, before the shell's timer fired, is not sent."""
    m = machine()
    actions = feed(
        m,
        challenge_at(10.0, deadline_ms=1000),
        TokenProduced(1, "a", 10.5),
        TokenProduced(1, "late", 11.0),
        TokenProduced(1, "later", 11.01),
        DeadlinePassed(1, 11.02),
    )
    assert [t.content for t in tokens(actions)] == ["a"]
    assert CancelGeneration(1) in actions
    (complete,) = completes(actions)
    assert complete.tokens == 1
    assert isinstance(actions[-1], RoundEnded)
    assert actions[-1].outcome is Outcome.DEADLINE


def test_a_refused_frame_ends_the_round_with_what_can_still_arrive() -> None:
    """Pieces with every frame below the refused seq are counted; the rest is cut."""
    m = machine()
    big = "x" * (MAX_TOKEN_CHARS + 1)  # frames 1 and 2
    feed(
        m, challenge_at(0.0), TokenProduced(1, "a", 0.1), TokenProduced(1, big, 0.2),
        TokenProduced(1, "b", 0.3),
    )  # fmt: skip
    actions = m.handle(DeliveryRefused(1, seq=2, at=0.8))
    assert [type(a) for a in actions] == [CancelGeneration, Send, RoundEnded]
    (complete,) = completes(actions)
    assert (complete.tokens, complete.duration_ms, complete.latency_ms_first_token) == (1, 800, 100)
    assert isinstance(actions[-1], RoundEnded)
    assert actions[-1].outcome is Outcome.UNDELIVERED
    assert m.handle(TokenProduced(1, "c", 0.9)) == []
    assert m.handle(DeliveryRefused(1, seq=3, at=0.9)) == []


@pytest.mark.parametrize(("seq", "counted"), [(0, 0), (1, 1), (3, 2), (4, 3)])
def test_refusal_counts_only_whole_pieces(seq: int, counted: int) -> None:
    big = "x" * (MAX_TOKEN_CHARS + 1)
    m = machine()
    feed(m, challenge_at(0.0), *(TokenProduced(1, t, 0.1) for t in ("a", big, "b", "c")))
    (complete,) = completes(m.handle(DeliveryRefused(1, seq=seq, at=1.0)))
    assert complete.tokens == counted
    if counted == 0:
        assert complete.latency_ms_first_token is msgspec.UNSET


def test_a_refusal_for_another_round_changes_nothing() -> None:
    m = machine()
    feed(m, challenge_at(0.0, round=2), TokenProduced(2, "a", 0.1))
    assert m.handle(DeliveryRefused(1, seq=0, at=0.2)) == []
    assert [t.seq for t in tokens(m.handle(TokenProduced(2, "b", 0.3)))] == [1]


def test_a_long_multi_line_failure_becomes_one_short_line() -> None:
    (report,) = sent(feed(machine(), challenge_at(0.0), RunnerFailed(1, "erro\n" * 1000, 0.3)))
    assert isinstance(report, ErrorReport)
    assert len(report.message) <= MAX_ERROR_CHARS
    assert "\n" not in report.message
    assert report.message.startswith("erro erro")


# ---------------------------------------------------------------- SVG rounds


def svg_round(max_tokens: int = 50) -> RoundMachine:
    m = machine()
    feed(m, challenge_at(0.0, max_tokens=max_tokens), RoundDetailsLearned(1, True, 0.01))
    return m


def test_an_svg_round_stops_right_after_a_closing_tag_split_across_pieces() -> None:
    """No prose after the drawing reaches the arena; the model is stopped."""
    m = svg_round()
    pieces = ["Aqui:", " <svg viewBox='0 0 9 9'>", "<circle r='2'/></s", "vg", ">\n\nGostou?"]
    actions = feed(m, *(TokenProduced(1, p, 0.1 + i / 10) for i, p in enumerate(pieces)))
    assert "".join(t.content for t in tokens(actions)) == (
        "Aqui: <svg viewBox='0 0 9 9'><circle r='2'/></svg>"
    )
    assert CancelGeneration(1) in actions
    (complete,) = completes(actions)
    assert complete.tokens == 5
    assert isinstance(actions[-1], RoundEnded)
    assert actions[-1].outcome is Outcome.FINISHED
    assert actions[-1].drawing_closed
    assert m.handle(TokenProduced(1, " Mais texto", 1.0)) == []


def test_the_piece_holding_the_closing_tag_is_cut_at_the_tag() -> None:
    m = svg_round()
    actions = feed(m, TokenProduced(1, "<svg><g/></SVG >\nFim", 0.1))
    assert [t.content for t in tokens(actions)] == ["<svg><g/></SVG >"]
    assert completes(actions)[0].tokens == 1


def test_a_closing_tag_before_any_opening_does_not_stop_the_round() -> None:
    m = svg_round()
    actions = feed(m, TokenProduced(1, "Use </svg> para fechar.", 0.1))
    assert completes(actions) == []
    assert [t.content for t in tokens(actions)] == ["Use </svg> para fechar."]


def test_outside_svg_rounds_prose_after_a_drawing_is_kept() -> None:
    m = machine()
    actions = feed(
        m, challenge_at(0.0), TokenProduced(1, "<svg></svg>", 0.1), TokenProduced(1, " Fim", 0.2)
    )
    assert [t.content for t in tokens(actions)] == ["<svg></svg>", " Fim"]
    assert completes(actions) == []


def test_the_flag_arriving_after_the_drawing_closed_stops_the_round_at_once() -> None:
    m = machine()
    feed(m, challenge_at(0.0), TokenProduced(1, "<svg></svg>", 0.1), TokenProduced(1, " Fim", 0.2))
    actions = m.handle(RoundDetailsLearned(1, True, 0.3))
    assert [type(a) for a in actions] == [CancelGeneration, Send, RoundEnded]
    assert completes(actions)[0].tokens == 2  # what was sent cannot be taken back
    assert isinstance(actions[-1], RoundEnded)
    assert actions[-1].drawing_closed


def test_the_flag_arriving_mid_drawing_stops_at_its_end() -> None:
    m = machine()
    feed(m, challenge_at(0.0), TokenProduced(1, "<svg><g>", 0.1))
    assert m.handle(RoundDetailsLearned(1, True, 0.2)) == []
    actions = m.handle(TokenProduced(1, "</g></svg> tchau", 0.3))
    assert [t.content for t in tokens(actions)] == ["</g></svg>"]
    assert CancelGeneration(1) in actions


@pytest.mark.parametrize(
    "details",
    [
        RoundDetailsLearned(1, False, 0.3),  # not an SVG round
        RoundDetailsLearned(2, True, 0.3),  # another round
    ],
)
def test_details_that_do_not_concern_this_svg_round_change_nothing(
    details: RoundDetailsLearned,
) -> None:
    m = machine()
    feed(m, challenge_at(0.0), TokenProduced(1, "<svg></svg>", 0.1))
    assert m.handle(details) == []
    assert [t.content for t in tokens(m.handle(TokenProduced(1, " Fim", 0.4)))] == [" Fim"]


def test_details_before_any_challenge_or_after_the_round_are_dropped() -> None:
    assert machine().handle(RoundDetailsLearned(1, True, 0.0)) == []
    m = machine()
    feed(m, challenge_at(0.0), TokenProduced(1, "<svg></svg>", 0.1), RunnerFinished(1, 0.2))
    assert m.handle(RoundDetailsLearned(1, True, 0.3)) == []


def test_a_drawing_still_open_with_a_tenth_of_the_budget_left_is_warned_once() -> None:
    m = svg_round(max_tokens=20)
    actions = feed(m, *(TokenProduced(1, p, 0.1) for p in ["<svg>"] + ["<g>"] * 16))
    assert [a for a in actions if isinstance(a, DrawingStillOpen)] == []
    actions = feed(m, TokenProduced(1, "<g>", 0.2), TokenProduced(1, "<g>", 0.3))
    assert [a for a in actions if isinstance(a, DrawingStillOpen)] == [
        DrawingStillOpen(1, tokens_left=2, started=True)
    ]
    last = feed(m, TokenProduced(1, "</g>", 0.4))  # the 20th: the budget ends the round
    assert not [a for a in last if isinstance(a, DrawingStillOpen)]  # warned once only
    assert isinstance(last[-1], RoundEnded)


def test_a_drawing_not_even_begun_is_warned_too() -> None:
    m = svg_round(max_tokens=5)
    actions = feed(m, *(TokenProduced(1, "hmm ", 0.1) for _ in range(4)))
    assert DrawingStillOpen(1, tokens_left=1, started=False) in actions


def test_a_late_flag_near_the_end_of_the_budget_warns_at_once() -> None:
    m = machine()
    feed(m, challenge_at(0.0, max_tokens=10), *(TokenProduced(1, "<svg>", 0.1) for _ in range(9)))
    assert m.handle(RoundDetailsLearned(1, True, 0.2)) == [
        DrawingStillOpen(1, tokens_left=1, started=True)
    ]


# ---------------------------------------------------------------- the model's own figures


def test_the_model_servers_figures_reach_the_round_summary() -> None:
    figures = ModelFigures(load_ms=6934, prompt_ms=342, prompt_tokens=18)
    actions = feed(
        machine(),
        challenge_at(0.0),
        TokenProduced(1, "a", 7.3),
        ModelReported(1, figures, 7.4),
        RunnerFinished(1, 7.4),
    )
    assert isinstance(actions[-1], RoundEnded)
    assert actions[-1].model == figures
    assert completes(actions)[0].tokens == 1  # the figures are no token


def test_figures_of_an_earlier_round_are_not_carried_over() -> None:
    m = machine()
    feed(m, challenge_at(0.0), ModelReported(1, ModelFigures(load_ms=5), 0.1))
    feed(m, RunnerFinished(1, 0.2))
    actions = feed(m, challenge_at(1.0, round=2), RunnerFinished(2, 1.1))
    assert isinstance(actions[-1], RoundEnded)
    assert actions[-1].model is None


def test_token_gives_back_the_one_frame_to_send_in_the_common_case() -> None:
    """The per-token path: no event object in, no action list out."""
    m = machine()
    m.handle(challenge_at(0.0))
    first = m.token(1, "Era", 0.1)
    second = m.token(1, " uma", 0.2)
    assert first == Token(round=1, participant_id="ana-pc", seq=0, content="Era")
    assert second == Token(round=1, participant_id="ana-pc", seq=1, content=" uma")
    assert m.token(1, "", 0.3) == []  # empty pieces are neither sent nor counted
    assert m.token(2, "late", 0.3) == []  # not the round in play
    # handle() says the same thing with actions
    assert m.handle(TokenProduced(1, " vez", 0.4)) == [
        Send(Token(round=1, participant_id="ana-pc", seq=2, content=" vez"))
    ]


def test_token_gives_actions_when_the_piece_ends_the_round() -> None:
    m = machine()
    m.handle(challenge_at(0.0, max_tokens=2))
    assert isinstance(m.token(1, "Era", 0.1), Token)
    actions = m.token(1, " uma", 0.2)
    assert isinstance(actions, list)
    assert sent(actions)[0] == Token(round=1, participant_id="ana-pc", seq=1, content=" uma")
    assert any(isinstance(a, CancelGeneration) for a in actions)
    complete = sent(actions)[1]
    assert isinstance(complete, Complete)
    assert complete.tokens == 2


def test_the_per_token_path_before_any_challenge_is_a_bug_too() -> None:
    with pytest.raises(RoundStateError):
        machine().token(1, "Era", 0.1)


def test_a_piece_too_big_for_one_frame_comes_back_as_actions() -> None:
    m = machine()
    m.handle(challenge_at(0.0))
    actions = m.token(1, "x" * (MAX_TOKEN_CHARS + 1), 0.1)
    assert isinstance(actions, list)
    assert [t.seq for t in sent(actions) if isinstance(t, Token)] == [0, 1]
    assert m.token(1, "y", 0.2) == Token(round=1, participant_id="ana-pc", seq=2, content="y")
