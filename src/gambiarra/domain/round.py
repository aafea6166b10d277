"""The round state machine: events in, actions out; no I/O, no clock.

Rule 1: everything that decides what is sent to the arena during a round
lives in this file. The shell (``gambiarra.service``) only stamps events with
the time, feeds them to ``RoundMachine.handle`` and carries out the actions.

Phases and legal moves::

    IDLE ──challenge──▶ GENERATING ──finished / deadline──▶ DONE (complete sent)
                          │   ▲    └──failed────────────▶ DONE (error sent)
                          │   └── challenge for another round: the old one is
                          │       cancelled and completed, the new one starts
    DONE ──challenge──▶ GENERATING
    any ──session ended──▶ IDLE (a generation in progress is cancelled: its
                                 session, and the round numbering, are gone)

Races are expected and handled on purpose: a runner may still emit a token,
finish or fail after its round was cancelled; such late events are dropped.
A duplicate challenge for the round in play is ignored (the arena never
re-sends one, but a replayed broadcast must not restart the count).
A token before any challenge can only be a bug, so it raises.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from msgspec import UNSET

from gambiarra.domain.events import (
    Action,
    CancelGeneration,
    ChallengeReceived,
    DeadlinePassed,
    Event,
    GenerationRequest,
    Outcome,
    ReasoningProduced,
    RoundEnded,
    RunnerFailed,
    RunnerFinished,
    Send,
    SessionEnded,
    ShowReasoning,
    StartGeneration,
    TokenProduced,
)
from gambiarra.domain.metrics import summarize
from gambiarra.domain.prompting import PromptStyle, apply_template
from gambiarra.domain.protocol import Challenge, Complete, ErrorReport, ModelInfo, Token
from gambiarra.errors import RoundStateError

__all__ = ["Fallbacks", "Phase", "RoundMachine"]

GENERATION_FAILED = "GENERATION_FAILED"


class Phase(enum.Enum):
    IDLE = "idle"
    GENERATING = "generating"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class Fallbacks:
    """Generation parameters used when a challenge omits its own."""

    max_tokens: int = 400
    temperature: float = 0.8


class RoundMachine:
    """Plays the rounds of one participant, one at a time."""

    def __init__(
        self,
        participant_id: str,
        model_info: ModelInfo,
        fallbacks: Fallbacks | None = None,
        style: PromptStyle | None = None,
    ) -> None:
        self.participant_id = participant_id
        self.model_info = model_info
        self.fallbacks = fallbacks if fallbacks is not None else Fallbacks()
        self.style = style if style is not None else PromptStyle()
        self.phase = Phase.IDLE
        self.round: int | None = None
        self._key: tuple[str | None, int] | None = None
        self._started_at = 0.0
        self._first_token_at: float | None = None
        self._seq = 0
        self._reasoning = 0
        self._played = False

    def handle(self, event: Event) -> list[Action]:
        """Feed one event; return what the shell must do, in order."""
        if isinstance(event, ChallengeReceived):
            return self._on_challenge(event)
        if isinstance(event, SessionEnded):
            return self._on_session_ended()
        if not self._played:
            raise RoundStateError(f"{type(event).__name__} before any challenge")
        if self.phase is not Phase.GENERATING or event.round != self.round:
            return []  # a late event from a cancelled or finished generation
        if isinstance(event, TokenProduced):
            return self._on_token(event)
        if isinstance(event, ReasoningProduced):
            self._reasoning += 1  # shown to the participant, never sent as a token
            return [ShowReasoning(event.round, event.text)] if event.text else []
        if isinstance(event, RunnerFinished):
            return self._finish(Outcome.FINISHED, event.at)
        if isinstance(event, DeadlinePassed):
            return [CancelGeneration(event.round), *self._finish(Outcome.DEADLINE, event.at)]
        return self._fail(event)

    # ------------------------------------------------------------ transitions

    def _on_challenge(self, event: ChallengeReceived) -> list[Action]:
        challenge = event.challenge
        key = (challenge.session_id, challenge.round)
        if key == self._key:
            return []  # duplicate of the round in play or just played
        actions: list[Action] = []
        if self.phase is Phase.GENERATING and self.round is not None:
            # "A new challenge means the previous round is over."
            actions.append(CancelGeneration(self.round))
            actions.extend(self._finish(Outcome.SUPERSEDED, event.at))
        self._open(challenge, event.at)
        actions.append(StartGeneration(self._request(challenge, event.at)))
        return actions

    def _on_session_ended(self) -> list[Action]:
        actions: list[Action] = []
        if self.phase is Phase.GENERATING and self.round is not None:
            actions.append(CancelGeneration(self.round))
        self.phase, self.round, self._key = Phase.IDLE, None, None
        return actions

    def _on_token(self, event: TokenProduced) -> list[Action]:
        if not event.text:
            return []  # empty pieces are neither sent nor counted
        if self._first_token_at is None:
            self._first_token_at = event.at
        token = Token(
            round=event.round, participant_id=self.participant_id, seq=self._seq, content=event.text
        )
        self._seq += 1
        return [Send(token)]

    def _finish(self, outcome: Outcome, at: float) -> list[Action]:
        assert self.round is not None
        metrics = summarize(self._started_at, self._first_token_at, at, self._seq)
        first_token_ms = metrics.first_token_ms
        complete = Complete(
            round=self.round,
            participant_id=self.participant_id,
            tokens=metrics.tokens,
            duration_ms=metrics.duration_ms,
            model_info=self.model_info,
            latency_ms_first_token=UNSET if first_token_ms is None else first_token_ms,
        )
        self.phase = Phase.DONE
        return [Send(complete), RoundEnded(self.round, outcome, metrics, reasoning=self._reasoning)]

    def _fail(self, event: RunnerFailed) -> list[Action]:
        message = event.message.strip() or "the model server failed without saying why"
        metrics = summarize(self._started_at, self._first_token_at, event.at, self._seq)
        report = ErrorReport(
            round=event.round,
            participant_id=self.participant_id,
            code=GENERATION_FAILED,
            message=message,
        )
        self.phase = Phase.DONE
        ended = RoundEnded(event.round, Outcome.FAILED, metrics, message, self._reasoning)
        return [Send(report), ended]

    # ------------------------------------------------------------ helpers

    def _open(self, challenge: Challenge, at: float) -> None:
        self.phase = Phase.GENERATING
        self._played = True
        self.round = challenge.round
        self._key = (challenge.session_id, challenge.round)
        self._started_at = at
        self._first_token_at = None
        self._seq = 0
        self._reasoning = 0

    def _request(self, challenge: Challenge, at: float) -> GenerationRequest:
        deadline = challenge.deadline_ms
        return GenerationRequest(
            round=challenge.round,
            prompt=apply_template(self.style.template, challenge.prompt),
            # `is None`, not `or`: temperature 0 and max_tokens 0 are real values.
            max_tokens=self.fallbacks.max_tokens
            if challenge.max_tokens is None
            else challenge.max_tokens,
            temperature=self.fallbacks.temperature
            if challenge.temperature is None
            else challenge.temperature,
            seed=challenge.seed,
            deadline_at=None if deadline is None else at + deadline / 1000,
            system=self.style.system,
        )
