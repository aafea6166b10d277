"""ArenaClient: the imperative shell around the round state machine.

The transport runs the link (reading frames in its own tasks, so pings are
answered while the model works) and hands over arena messages and link
changes; each generation runs in a task of its own. Every event is stamped
with the clock and fed to ``RoundMachine``; the actions that come back are
carried out here, in order. This is the only module of the core that logs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import aclosing

import anyio
import anyio.abc
import msgspec
import structlog

import gambiarra.events as ev
from gambiarra.domain.arena_errors import ArenaErrorKind, classify
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
    ReasoningProduced,
    RoundDetailsLearned,
    RoundEnded,
    RunnerFailed,
    RunnerFinished,
    Send,
    SessionEnded,
    ShowReasoning,
    StartGeneration,
)
from gambiarra.domain.protocol import Challenge, Heartbeat, Perception, ServerError, Token
from gambiarra.domain.round import Phase, RoundMachine
from gambiarra.errors import GambiarraError, RunnerError, unwrap
from gambiarra.ports import (
    AnswerRecorded,
    ArenaTransport,
    Incoming,
    LateChallenge,
    LinkDown,
    LinkUp,
    ModelRunner,
    Retrying,
    RoundDetails,
    RoundView,
    SessionReplaced,
)
from gambiarra.world import WorldPlayer, world_summary

__all__ = ["ArenaClient", "round_ended", "round_started"]

log = structlog.get_logger("gambiarra")

# How long the last round's messages may take to reach the arena before a
# `--rounds N` client exits anyway.
FLUSH_TIMEOUT = 10.0
# How often a stopped world is looked at again before joining it.
WORLD_POLL_S = 5.0


class ArenaClient:
    """Plays arena rounds with one model until stopped.

    Args:
        transport: the link to the arena.
        runner: the local model.
        machine: the round state machine for this participant.
        view: what the participant sees.
        clock: monotonic seconds; must be the event loop's clock because
            deadlines are enforced with anyio cancel scopes. On asyncio that
            is ``time.monotonic``, which costs a tenth of ``anyio.current_time``
            (paid for every token).
        max_rounds: stop after this many rounds (None plays forever).
        world: the world-mode player, for ``agent``; None plays rounds only.
        world_poll: seconds between looks at a stopped world before joining it.
    """

    def __init__(
        self,
        transport: ArenaTransport,
        runner: ModelRunner,
        machine: RoundMachine,
        view: RoundView,
        clock: Callable[[], float] = time.monotonic,
        max_rounds: int | None = None,
        world: WorldPlayer | None = None,
        world_poll: float = WORLD_POLL_S,
    ) -> None:
        self._world_poll = world_poll
        self._transport = transport
        self._world = world
        self._runner = runner
        self._machine = machine
        self._view = view
        self._clock = clock
        self._max_rounds = max_rounds
        self._rounds_played = 0
        self._generations: dict[int, anyio.CancelScope] = {}
        self._tg: anyio.abc.TaskGroup | None = None
        self._joining: anyio.CancelScope | None = None
        self._log = log.bind(participant=machine.participant_id)

    async def run(self) -> None:
        """Connect, register and play rounds; reconnects are the transport's job.

        Returns when ``max_rounds`` rounds were played and delivered.

        Raises:
            ArenaRejected: the arena refused the registration (wrong PIN).
            ArenaUnreachable: the arena could not be reached (within the
                reconnection budget).
        """
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                tg.start_soon(self._view.run)  # the screen draws in its own task
                if self._view.tick_interval is not None:
                    tg.start_soon(self._tick, self._view.tick_interval)
                if self._world is not None:
                    tg.start_soon(self._world.run, self._transport.send, self.stop)
                await self._transport.run(self._receive)
        except Exception as exc:
            error = unwrap(exc)
            if error is exc or not isinstance(error, GambiarraError):
                raise
            raise error from None
        finally:
            if self._world is not None:
                self._view.show(world_summary(self._world.summary))
            self._view.close()  # every way out gives the terminal back

    def stop(self) -> None:
        """End the session once what was sent has reached the arena."""
        assert self._tg is not None
        self._tg.start_soon(self._stop_when_delivered)

    async def _tick(self, interval: float) -> None:
        while True:
            await anyio.sleep(interval)
            self._view.tick()

    # ------------------------------------------------------------ arena side

    async def _receive(self, item: Incoming) -> None:
        if isinstance(item, Challenge):
            self._feed(ChallengeReceived(item, at=self._clock()))
        elif isinstance(item, Perception):
            if self._world is not None:
                self._world.perceive(item)
        elif isinstance(item, Heartbeat):
            self._log.debug("heartbeat", ts=item.ts)
        elif isinstance(item, ServerError):
            self._on_error(item)
        elif isinstance(item, LateChallenge):
            self._status(ev.LateJoin(round=item.challenge.round, left_ms=item.left_ms))
            self._feed(ChallengeReceived(item.challenge, at=self._clock()))
        elif isinstance(item, AnswerRecorded):
            self._on_recorded(item)
        elif isinstance(item, RoundDetails):
            self._on_details(item)
        elif isinstance(item, SessionReplaced):
            self._feed(SessionEnded(at=self._clock()))
            if self._world is not None:
                self._world.round_free()  # the replaced round no longer holds the model
            self._status(ev.SessionReplaced())
        else:
            self._on_link(item)

    def _on_link(self, item: Incoming) -> None:
        if isinstance(item, LinkUp):
            if self._world is not None:
                self._start_joining()
            self._status(
                ev.Connected(
                    first=item.first,
                    resent=item.resent,
                    session_id=item.session_id,
                    joining_world=self._world is not None,
                )
            )
        elif isinstance(item, LinkDown):
            playing = self._machine.phase is Phase.GENERATING
            self._status(ev.Disconnected(reason=item.reason, generating=playing))
        elif isinstance(item, Retrying):
            self._status(ev.Retrying(delay_s=item.delay, attempt=item.attempt, reason=item.reason))

    def _on_recorded(self, recorded: AnswerRecorded) -> None:
        self._status(
            ev.AnswerRecorded(round=recorded.round, chars=recorded.chars, exact=recorded.exact)
        )

    def _on_details(self, details: RoundDetails) -> None:
        playing = self._machine.phase is Phase.GENERATING and self._machine.round == details.round
        if details.svg_mode and playing:
            self._status(ev.DrawingRound(round=details.round))
        self._feed(RoundDetailsLearned(details.round, details.svg_mode, self._clock()))

    def _start_joining(self) -> None:
        # A world the organiser stopped is started by any world_join (protocol.md):
        # join only once it runs. A new link replaces a join still waiting.
        if self._joining is not None:
            self._joining.cancel()
        assert self._tg is not None
        self._joining = anyio.CancelScope()
        self._tg.start_soon(self._join_world, self._joining)

    async def _join_world(self, scope: anyio.CancelScope) -> None:
        assert self._world is not None
        with scope:
            told = False
            while await self._transport.world_running() is False:
                if not told:
                    told = True
                    self._status(ev.WorldStopped())
                await anyio.sleep(self._world_poll)
            self._world.joined()

    def _on_error(self, error: ServerError) -> None:
        our_bug = classify(error) is ArenaErrorKind.CLIENT_BUG
        if our_bug:
            self._log.error("arena_rejected_our_message", message=error.message)
        else:
            self._log.warning("arena_error", message=error.message, code=error.code)
        self._view.show(ev.ArenaWarned(message=error.message, code=error.code, our_bug=our_bug))

    def _status(self, event: ev.SessionEvent) -> None:
        # A change of state: logged by its kind with its fields, then shown.
        self._log.info(ev.tag_of(event), **msgspec.structs.asdict(event))
        self._view.show(event)

    # ------------------------------------------------------------ actions

    def _feed(self, event: Event) -> None:
        self._apply(self._machine.handle(event))

    def _apply(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                message = action.message
                if isinstance(message, Token):
                    self._send_token(message)
                else:
                    self._transport.send(message)
            elif isinstance(action, StartGeneration):
                self._start(action.request)
            elif isinstance(action, CancelGeneration):
                scope = self._generations.pop(action.round, None)
                if scope is not None:
                    scope.cancel()
            elif isinstance(action, ShowReasoning):
                self._view.reasoning(action.text)
            elif isinstance(action, DrawingStillOpen):
                self._status(
                    ev.DrawingOpen(
                        round=action.round, tokens_left=action.tokens_left, started=action.started
                    )
                )
            elif isinstance(action, RoundEnded):
                self._round_ended(action)

    def _send_token(self, token: Token) -> None:
        if self._transport.send(token):  # the arena first, the screen after
            self._view.token(token.content)
        else:  # the link is down and the outbox full
            self._feed(DeliveryRefused(token.round, token.seq, self._clock()))

    def _start(self, request: GenerationRequest) -> None:
        assert self._tg is not None
        scope = anyio.CancelScope(
            deadline=request.deadline_at if request.deadline_at is not None else float("inf")
        )
        self._generations[request.round] = scope
        if self._world is not None:
            self._world.round_busy()
        # The generation task is queued before the screen is woken: the request
        # reaches the model before the round's header is drawn, which still
        # comes before the answer (the screen keeps the order it was given).
        self._tg.start_soon(self._generate, request, scope)
        self._view.show(round_started(request))

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
        self._view.show(round_ended(ended))
        if self._world is not None:
            self._world.round_free()
        self._rounds_played += 1
        if self._max_rounds is not None and self._rounds_played >= self._max_rounds:
            self.stop()

    async def _stop_when_delivered(self) -> None:
        with anyio.move_on_after(FLUSH_TIMEOUT) as waiting:
            await self._transport.flush()
        if waiting.cancelled_caught:
            self._log.warning("exit_before_arena_confirmed", timeout=FLUSH_TIMEOUT)
        assert self._tg is not None
        self._tg.cancel_scope.cancel()

    # ------------------------------------------------------------ model side

    async def _generate(self, request: GenerationRequest, scope: anyio.CancelScope) -> None:
        round_ = request.round
        self._log.info("generation_started", round=round_, max_tokens=request.max_tokens)
        outcome: Event | None = None
        # The per-token path: a piece goes straight to the machine (no event
        # object), and the frame it gives back straight to the arena.
        token, send, apply, clock = self._machine.token, self._send_token, self._apply, self._clock
        with scope:
            try:
                async with aclosing(self._runner.stream(request)) as chunks:
                    async for chunk in chunks:
                        if chunk.reasoning:
                            self._feed(ReasoningProduced(round_, chunk.text, self._clock()))
                        elif chunk.text:
                            sent = token(round_, chunk.text, clock())
                            if isinstance(sent, Token):
                                send(sent)
                            else:
                                apply(sent)
                        if chunk.figures is not None:
                            # The model's last chunk: the answer is over now, even if
                            # the runner still reads the end of the body (to keep its
                            # connection for the next round).
                            self._feed(ModelReported(round_, chunk.figures, self._clock()))
                            self._feed(RunnerFinished(round_, self._clock()))
                outcome = RunnerFinished(round_, self._clock())
            except RunnerError as exc:
                outcome = RunnerFailed(round_, str(exc), self._clock())
            except Exception as exc:  # a bug in a runner must not end the session
                self._log.exception("runner_crashed", round=round_)
                outcome = RunnerFailed(round_, f"client error: {type(exc).__name__}", self._clock())
        if outcome is None and scope.cancelled_caught and scope.deadline <= self._clock():
            outcome = DeadlinePassed(round_, self._clock())
        if outcome is not None:
            self._feed(outcome)


def round_started(request: GenerationRequest) -> ev.RoundStarted:
    """The public event for a generation request."""
    return ev.RoundStarted(
        round=request.round,
        prompt=request.prompt,
        max_tokens=request.max_tokens,
        temperature=request.temperature,
        seed=request.seed,
        system=request.system,
        deadline_at=request.deadline_at,
    )


def round_ended(ended: RoundEnded) -> ev.RoundEnded:
    """The public event for the round machine's end of a round (metrics flattened)."""
    m = ended.metrics
    return ev.RoundEnded(
        round=ended.round,
        outcome=ended.outcome,
        tokens=m.tokens,
        first_token_ms=m.first_token_ms,
        duration_ms=m.duration_ms,
        tokens_per_second=m.tokens_per_second,
        error=ended.error,
        reasoning_pieces=ended.reasoning,
        model=ended.model,
        drawing_closed=ended.drawing_closed,
    )
