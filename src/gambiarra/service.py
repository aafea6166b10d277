"""ArenaClient: the imperative shell around the round state machine.

It reads arena messages in one task and runs each generation in another, so
frames (and websockets' pings) keep flowing while the model works. Every
event is stamped with the clock and fed to ``RoundMachine``; the actions that
come back are carried out here, in order. This is the only module of the
core that logs.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import aclosing

import anyio
import anyio.abc
import structlog

from gambiarra.domain.events import (
    Action,
    CancelGeneration,
    ChallengeReceived,
    DeadlinePassed,
    Event,
    GenerationRequest,
    RoundEnded,
    RunnerFailed,
    RunnerFinished,
    Send,
    StartGeneration,
    TokenProduced,
)
from gambiarra.domain.protocol import (
    Challenge,
    Heartbeat,
    Registered,
    ServerError,
    ServerMessage,
    Token,
)
from gambiarra.domain.round import RoundMachine
from gambiarra.errors import ArenaRejected, ConnectionLost, GambiarraError, RunnerError, unwrap
from gambiarra.ports import ArenaTransport, ModelRunner, RoundView

__all__ = ["ArenaClient"]

log = structlog.get_logger("gambiarra")


def _is_pin_rejection(error: ServerError) -> bool:
    return error.message.strip().rstrip(".").lower() == "invalid pin"


class ArenaClient:
    """Plays arena rounds with one model until stopped.

    Args:
        transport: the link to the arena.
        runner: the local model.
        machine: the round state machine for this participant.
        view: what the participant sees.
        clock: monotonic seconds; must be the event loop's clock because
            deadlines are enforced with anyio cancel scopes.
        max_rounds: stop after this many rounds (None plays forever).
    """

    def __init__(
        self,
        transport: ArenaTransport,
        runner: ModelRunner,
        machine: RoundMachine,
        view: RoundView,
        clock: Callable[[], float] = anyio.current_time,
        max_rounds: int | None = None,
    ) -> None:
        self._transport = transport
        self._runner = runner
        self._machine = machine
        self._view = view
        self._clock = clock
        self._max_rounds = max_rounds
        self._rounds_played = 0
        self._generations: dict[int, anyio.CancelScope] = {}
        self._tg: anyio.abc.TaskGroup | None = None
        self._log = log.bind(participant=machine.participant_id)

    async def run(self) -> None:
        """Connect, register and play rounds.

        Returns when ``max_rounds`` rounds were played.

        Raises:
            ArenaRejected: the arena refused the registration (wrong PIN).
            TransportError: the arena could not be reached or the link was lost.
        """
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                async with aclosing(self._transport.messages()) as messages:
                    async for message in messages:
                        await self._on_message(message)
        except Exception as exc:
            error = unwrap(exc)
            if error is exc or not isinstance(error, GambiarraError):
                raise
            raise error from None

    # ------------------------------------------------------------ arena side

    async def _on_message(self, message: ServerMessage) -> None:
        if isinstance(message, Challenge):
            await self._feed(ChallengeReceived(message, at=self._clock()))
        elif isinstance(message, Registered):
            self._log.info("registered", session=message.session_id)
            self._view.status("registrado na arena; aguardando o desafio...")
        elif isinstance(message, ServerError):
            self._on_error(message)
        elif isinstance(message, Heartbeat):
            self._log.debug("heartbeat", ts=message.ts)

    def _on_error(self, error: ServerError) -> None:
        if _is_pin_rejection(error):
            raise ArenaRejected(
                "a arena recusou o PIN: confira o PIN com a organização e rode de novo"
            )
        self._log.warning("arena_error", message=error.message, code=error.code)
        self._view.status(f"a arena avisou: {error.message or error.code or 'erro sem detalhe'}")

    # ------------------------------------------------------------ actions

    async def _feed(self, event: Event) -> None:
        await self._apply(self._machine.handle(event))

    async def _apply(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                await self._send(action)
            elif isinstance(action, StartGeneration):
                self._start(action.request)
            elif isinstance(action, CancelGeneration):
                scope = self._generations.pop(action.round, None)
                if scope is not None:
                    scope.cancel()
            elif isinstance(action, RoundEnded):
                self._round_ended(action)

    async def _send(self, action: Send) -> None:
        message = action.message
        if isinstance(message, Token):
            self._view.token(message.content)
        try:
            await self._transport.send(message)
        except ConnectionLost as exc:
            # The reader task sees the same loss and ends the session.
            self._log.warning("send_failed", kind=type(message).__name__, reason=str(exc))

    def _start(self, request: GenerationRequest) -> None:
        assert self._tg is not None
        scope = anyio.CancelScope(
            deadline=request.deadline_at if request.deadline_at is not None else float("inf")
        )
        self._generations[request.round] = scope
        self._view.round_started(request)
        self._tg.start_soon(self._generate, request, scope)

    def _round_ended(self, ended: RoundEnded) -> None:
        self._generations.pop(ended.round, None)
        self._log.info(
            "round_ended",
            round=ended.round,
            outcome=ended.outcome.value,
            tokens=ended.metrics.tokens,
            first_token_ms=ended.metrics.first_token_ms,
            duration_ms=ended.metrics.duration_ms,
            error=ended.error,
        )
        self._view.round_ended(ended)
        self._rounds_played += 1
        if self._max_rounds is not None and self._rounds_played >= self._max_rounds:
            assert self._tg is not None
            self._tg.cancel_scope.cancel()

    # ------------------------------------------------------------ model side

    async def _generate(self, request: GenerationRequest, scope: anyio.CancelScope) -> None:
        round_ = request.round
        self._log.info("generation_started", round=round_, max_tokens=request.max_tokens)
        outcome: Event | None = None
        with scope:
            try:
                async with aclosing(self._runner.stream(request)) as chunks:
                    async for chunk in chunks:
                        await self._feed(TokenProduced(round_, chunk.text, self._clock()))
                outcome = RunnerFinished(round_, self._clock())
            except RunnerError as exc:
                outcome = RunnerFailed(round_, str(exc), self._clock())
            except Exception as exc:  # a bug in a runner must not end the session
                self._log.exception("runner_crashed", round=round_)
                outcome = RunnerFailed(round_, f"client error: {type(exc).__name__}", self._clock())
        if outcome is None and scope.cancelled_caught and scope.deadline <= self._clock():
            outcome = DeadlinePassed(round_, self._clock())
        if outcome is not None:
            await self._feed(outcome)
