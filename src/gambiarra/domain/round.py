"""The round state machine: events in, actions out; no I/O, no clock.

Rule 1: everything that decides what is sent to the arena during a round
lives in this file. The shell (``gambiarra.service``) only stamps events with
the time, feeds them to ``RoundMachine.handle`` and carries out the actions.

Phases and legal moves::

    IDLE ──challenge──▶ GENERATING ──finished / deadline / max_tokens──▶ DONE (complete sent)
                          │   ▲    ├──</svg> in an SVG round──▶ DONE (complete sent)
                          │   │    ├──delivery refused──▶ DONE (complete of what can arrive)
                          │   │    └──failed────────────▶ DONE (error sent)
                          │   └── challenge for another round: the old one is
                          │       cancelled and completed, the new one starts
    DONE ──challenge──▶ GENERATING
    any ──session ended──▶ IDLE (a generation in progress is cancelled: its
                                 session, and the round numbering, are gone)

The client enforces the challenge's limits itself (protocol.md: the real
server enforces neither): the ``max_tokens``-th piece is sent, then the
generation is cancelled and the round completed; a piece stamped at or after
the deadline is dropped and ends the round, even before the shell's timer
fires. ``seq`` counts frames and ``pieces`` counts model tokens: a piece too
big for one frame is split over several, and counted once.

In an SVG round (the arena's HTTP side says so, a few ms after the
challenge) the answer ends at the drawing's ``</svg>``: the piece that closes
it is sent up to the tag and the model is stopped, so no prose follows the
drawing; if the drawing had already closed when the flag arrived, the round
stops then. With a tenth of the budget left and the drawing still open,
``DrawingStillOpen`` asks the shell to warn the participant (once).

The model server's own figures (``ModelReported``: load and prompt time)
ride along into ``RoundEnded``, so the summary tells a slow load from a slow
model.

Races are expected and handled on purpose: a runner may still emit a token,
finish or fail after its round was cancelled; such late events are dropped.
A duplicate challenge for the round in play is ignored (the arena never
re-sends one, but a replayed broadcast must not restart the count).
A token before any challenge can only be a bug, so it raises.
"""

from __future__ import annotations

import enum
from bisect import bisect_right
from dataclasses import dataclass

from msgspec import UNSET

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
    ReasoningProduced,
    RoundDetailsLearned,
    RoundEnded,
    RunnerFailed,
    RunnerFinished,
    Send,
    SessionEnded,
    ShowReasoning,
    StartGeneration,
    TokenProduced,
)
from gambiarra.domain.metrics import ModelFigures, summarize
from gambiarra.domain.prompting import PromptStyle, apply_template
from gambiarra.domain.protocol import Challenge, Complete, ErrorReport, ModelInfo, Token
from gambiarra.domain.svg import SvgWatch
from gambiarra.errors import RoundStateError

__all__ = ["MAX_ERROR_CHARS", "MAX_TOKEN_CHARS", "Fallbacks", "Phase", "RoundMachine"]

GENERATION_FAILED = "GENERATION_FAILED"

# The arena refuses frames over 1 MiB and closes the link (protocol.md). A
# token frame carries at most this many characters: even if JSON escaped every
# one as \u00XX (6 bytes), the frame would stay far under the limit.
MAX_TOKEN_CHARS = 64 * 1024

# In an SVG round, the participant is warned when this share of the budget is
# left and the drawing is still open.
DRAWING_WARNING_SHARE = 0.1

# error.message is free text for the organiser's log; a model server's error
# page must not become a huge frame.
MAX_ERROR_CHARS = 500


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
        self._seq = 0  # frames sent this round: the next token's seq
        self._pieces = 0  # model pieces this round: what complete.tokens counts
        self._piece_ends: list[int] = []  # for each piece, the seq after its last frame
        self._budget: int | None = None  # max_tokens; None: no limit
        self._deadline_at: float | None = None
        self._reasoning = 0
        self._played = False
        self._figures: ModelFigures | None = None
        self._svg_round = False
        self._drawing = SvgWatch()
        self._drawing_warned = False
        self._drawing_closed = False

    def handle(self, event: Event) -> list[Action]:
        """Feed one event; return what the shell must do, in order."""
        if isinstance(event, TokenProduced):
            sent = self.token(event.round, event.text, event.at)
            return [Send(sent)] if isinstance(sent, Token) else sent
        if isinstance(event, ChallengeReceived):
            return self._on_challenge(event)
        if isinstance(event, SessionEnded):
            return self._on_session_ended()
        if isinstance(event, RoundDetailsLearned):
            return self._on_details(event)
        if not self._played:
            raise RoundStateError(f"{type(event).__name__} before any challenge")
        if self.phase is not Phase.GENERATING or event.round != self.round:
            # A late event from a cancelled or finished generation. A refusal
            # of a frame whose round already produced its complete lands here
            # too: that complete cannot be taken back.
            return []
        if isinstance(event, ReasoningProduced):
            self._reasoning += 1  # shown to the participant, never sent as a token
            return [ShowReasoning(event.round, event.text)] if event.text else []
        if isinstance(event, RunnerFinished):
            return self._finish(Outcome.FINISHED, event.at)
        if isinstance(event, DeadlinePassed):
            return self._stop(Outcome.DEADLINE, event.at)
        if isinstance(event, DeliveryRefused):
            return self._on_refused(event)
        if isinstance(event, ModelReported):
            self._figures = event.figures
            return []
        return self._fail(event)

    def token(self, round: int, text: str, at: float) -> Token | list[Action]:
        """``handle(TokenProduced(round, text, at))`` without building the event.

        The shell calls this for every piece the model produces, so the common
        case is kept short: a piece that fits one frame and ends nothing comes
        back as that one ``Token`` to send, instead of ``[Send(token)]``.
        """
        if self.phase is not Phase.GENERATING or round != self.round:
            if not self._played:
                raise RoundStateError("TokenProduced before any challenge")
            # A late piece from a cancelled or finished generation.
            return []
        if not text:
            return []  # empty pieces are neither sent nor counted
        if self._deadline_at is not None and at >= self._deadline_at:
            # The shell's timer has not fired yet (a burst read in one chunk):
            # the piece came too late, and the round is over.
            return self._stop(Outcome.DEADLINE, at)
        budget = self._budget
        if budget is not None and self._pieces >= budget:
            return self._stop(Outcome.FINISHED, at)  # max_tokens 0: nothing is sent
        if self._first_token_at is None:
            self._first_token_at = at
        closed_at = self._drawing.feed(text)  # followed in every round: the flag may come late
        if closed_at is not None and self._svg_round:
            return self._close_drawing(text[:closed_at], at)  # no prose after the drawing
        if len(text) <= MAX_TOKEN_CHARS:  # one frame: built here, the common case
            frames: Token | list[Token] = Token(
                round=round, participant_id=self.participant_id, seq=self._seq, content=text
            )
            self._seq += 1
        else:
            frames = self._frames(text)
        self._pieces += 1
        self._piece_ends.append(self._seq)
        if budget is not None and self._pieces >= budget:
            # The arena does not enforce max_tokens and some model servers
            # ignore it: stop here. Cancelling closes the model's HTTP stream,
            # which tells the server to stop generating.
            return [*_sends(frames), *self._stop(Outcome.FINISHED, at)]
        if self._svg_round:
            return [*_sends(frames), *self._drawing_warning()]
        return frames if isinstance(frames, Token) else _sends(frames)

    # ------------------------------------------------------------ transitions

    def _on_challenge(self, event: ChallengeReceived) -> list[Action]:
        challenge = event.challenge
        key = (challenge.session_id, challenge.round)
        if key == self._key:
            return []  # duplicate of the round in play or just played
        actions: list[Action] = []
        if self.phase is Phase.GENERATING and self.round is not None:
            # "A new challenge means the previous round is over."
            actions.extend(self._stop(Outcome.SUPERSEDED, event.at))
        request = self._request(challenge, event.at)
        self._open(challenge, request, event.at)
        actions.append(StartGeneration(request))
        return actions

    def _on_session_ended(self) -> list[Action]:
        actions: list[Action] = []
        if self.phase is Phase.GENERATING and self.round is not None:
            actions.append(CancelGeneration(self.round))
        self.phase, self.round, self._key = Phase.IDLE, None, None
        return actions

    def _close_drawing(self, text: str, at: float) -> list[Action]:
        """The piece that closes an SVG round's drawing: sent up to its ``</svg>``, then stop."""
        actions = _sends(self._frames(text))
        self._pieces += 1
        self._piece_ends.append(self._seq)
        self._drawing_closed = True
        actions.extend(self._stop(Outcome.FINISHED, at))
        return actions

    def _on_details(self, event: RoundDetailsLearned) -> list[Action]:
        # Looked up after the challenge: it may concern a round already over.
        if not event.svg_mode or self.phase is not Phase.GENERATING or event.round != self.round:
            return []
        self._svg_round = True
        if self._drawing.closed:
            # The drawing closed before we knew: stop now (what followed it is sent).
            self._drawing_closed = True
            return self._stop(Outcome.FINISHED, event.at)
        return self._drawing_warning()

    def _drawing_warning(self) -> list[Action]:
        if not self._svg_round or self._drawing_warned or self._budget is None:
            return []
        left = self._budget - self._pieces
        if left <= 0 or left > max(1, int(self._budget * DRAWING_WARNING_SHARE)):
            return []
        self._drawing_warned = True
        assert self.round is not None
        return [DrawingStillOpen(self.round, left, self._drawing.opened)]

    def _on_refused(self, event: DeliveryRefused) -> list[Action]:
        # The arena keeps only consecutive seqs, so nothing from the refused
        # frame on will be recorded: report the pieces whose every frame is
        # below it, and stop generating what can no longer be delivered.
        delivered = bisect_right(self._piece_ends, event.seq)
        return self._stop(Outcome.UNDELIVERED, event.at, pieces=delivered)

    def _stop(self, outcome: Outcome, at: float, pieces: int | None = None) -> list[Action]:
        assert self.round is not None
        return [CancelGeneration(self.round), *self._finish(outcome, at, pieces)]

    def _finish(self, outcome: Outcome, at: float, pieces: int | None = None) -> list[Action]:
        assert self.round is not None
        counted = self._pieces if pieces is None else pieces
        first_token_at = self._first_token_at if counted else None
        metrics = summarize(self._started_at, first_token_at, at, counted)
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
        ended = RoundEnded(
            self.round,
            outcome,
            metrics,
            reasoning=self._reasoning,
            model=self._figures,
            drawing_closed=self._drawing_closed,
        )
        return [Send(complete), ended]

    def _fail(self, event: RunnerFailed) -> list[Action]:
        message = _one_line(event.message) or "o servidor do modelo falhou sem dizer por quê"
        metrics = summarize(self._started_at, self._first_token_at, event.at, self._pieces)
        report = ErrorReport(
            round=event.round,
            participant_id=self.participant_id,
            code=GENERATION_FAILED,
            message=message,
        )
        self.phase = Phase.DONE
        ended = RoundEnded(
            event.round, Outcome.FAILED, metrics, message, self._reasoning, self._figures
        )
        return [Send(report), ended]

    # ------------------------------------------------------------ helpers

    def _frames(self, text: str) -> Token | list[Token]:
        """This piece's frame, or one per ``MAX_TOKEN_CHARS`` characters of a piece
        too big for one frame, with consecutive seqs.

        Slicing a str never cuts a character: Python strings are code points.
        """
        assert self.round is not None
        size, seq = MAX_TOKEN_CHARS, self._seq
        if len(text) <= size:
            self._seq += 1
            return Token(
                round=self.round, participant_id=self.participant_id, seq=seq, content=text
            )
        starts = range(0, len(text), size)
        self._seq += len(starts)
        return [
            Token(
                round=self.round,
                participant_id=self.participant_id,
                seq=seq + index,
                content=text[start : start + size],
            )
            for index, start in enumerate(starts)
        ]

    def _open(self, challenge: Challenge, request: GenerationRequest, at: float) -> None:
        self.phase = Phase.GENERATING
        self._played = True
        self.round = challenge.round
        self._key = (challenge.session_id, challenge.round)
        self._started_at = at
        self._first_token_at = None
        self._seq = 0
        self._pieces = 0
        self._piece_ends = []
        # A negative max_tokens means "no limit", as Ollama's num_predict -1 does.
        self._budget = request.max_tokens if request.max_tokens >= 0 else None
        self._deadline_at = request.deadline_at
        self._reasoning = 0
        self._figures = None
        self._svg_round = False
        self._drawing = SvgWatch()
        self._drawing_warned = False
        self._drawing_closed = False

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


def _sends(frames: Token | list[Token]) -> list[Action]:
    return [Send(frames)] if isinstance(frames, Token) else [Send(token) for token in frames]


def _one_line(message: str) -> str:
    """A model server's message as one line of at most ``MAX_ERROR_CHARS`` characters."""
    line = " ".join(message.split())
    return line if len(line) <= MAX_ERROR_CHARS else line[: MAX_ERROR_CHARS - 1] + "…"
