"""WorldPlayer: the imperative shell around the agent state machine.

It sits beside ``ArenaClient`` on the same connection: the client hands it
radar pulses and link changes, and tells it when a round takes the model.
Decisions run one at a time in its own task, each bounded by the decision
timeout and a small token budget; a newer pulse cancels an older decision.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import aclosing

import anyio
import structlog

from gambiarra.domain.events import GenerationRequest, Send
from gambiarra.domain.protocol import ClientMessage, Perception
from gambiarra.domain.world.agent import (
    AgentEvent,
    AgentMachine,
    AgentSummary,
    CancelDecision,
    Decide,
    DecisionFailed,
    DecisionMade,
    Joined,
    PerceptionReceived,
    PulseAnswered,
    PulseReport,
    RoundBusy,
    RoundFree,
)
from gambiarra.errors import RunnerError
from gambiarra.events import Pulse, TemplateWarning, WorldSummary
from gambiarra.ports import ModelRunner, RoundView

__all__ = ["WorldPlayer", "pulse", "world_summary"]

log = structlog.get_logger("gambiarra.world")


class WorldPlayer:
    """Answers every radar pulse with one action decided by the model.

    Args:
        runner: the model.
        machine: the agent state machine.
        view: where each pulse line and the final summary go.
        decision_timeout: seconds a decision may take (the arena re-pulses at 12 s).
        decision_tokens: the token budget of one decision.
        temperature: the model's temperature for decisions.
        max_pulses: stop the client after this many pulses answered (None: never).
        warnings: things to tell the participant at the start (an incomplete template).
    """

    def __init__(
        self,
        runner: ModelRunner,
        machine: AgentMachine,
        view: RoundView,
        decision_timeout: float = 10.0,
        decision_tokens: int = 64,
        temperature: float = 0.8,
        max_pulses: int | None = None,
        warnings: tuple[str, ...] = (),
        clock: Callable[[], float] = anyio.current_time,
    ) -> None:
        self._runner = runner
        self.machine = machine
        self._view = view
        self._timeout = decision_timeout
        self._tokens = decision_tokens
        self._temperature = temperature
        self._max_pulses = max_pulses
        self._warnings = warnings
        self._clock = clock
        self._send: Callable[[ClientMessage], object] = lambda message: None
        self._done: Callable[[], None] = lambda: None
        self._pending: Decide | None = None
        self._current: tuple[int, anyio.CancelScope] | None = None
        self._wake = anyio.Event()

    @property
    def summary(self) -> AgentSummary:
        return self.machine.summary

    async def run(self, send: Callable[[ClientMessage], object], done: Callable[[], None]) -> None:
        """Decide pulses until cancelled; ``done`` is called after ``max_pulses``."""
        self._send, self._done = send, done
        for warning in self._warnings:
            self._view.show(TemplateWarning(message=warning))
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            decide, self._pending = self._pending, None
            if decide is not None:
                await self._decide(decide)

    # ------------------------------------------------------------ from the client

    def joined(self) -> None:
        self._feed(Joined(self._clock()))

    def perceive(self, perception: Perception) -> None:
        if self._max_pulses is not None and self.summary.pulses >= self._max_pulses:
            return  # done: the client is only waiting for the arena to have everything
        self._feed(PerceptionReceived(perception, self._clock()))

    def round_busy(self) -> None:
        self._feed(RoundBusy(self._clock()))

    def round_free(self) -> None:
        self._feed(RoundFree(self._clock()))

    # ------------------------------------------------------------ actions

    def _feed(self, event: AgentEvent) -> None:
        for action in self.machine.handle(event):
            if isinstance(action, Send):
                self._send(action.message)
            elif isinstance(action, Decide):
                self._pending = action
                self._wake.set()
            elif isinstance(action, CancelDecision):
                self._cancel(action.pulse)
            elif isinstance(action, PulseAnswered):
                self._view.show(pulse(action.report))
                if self._max_pulses is not None and self.summary.pulses >= self._max_pulses:
                    self._done()

    def _cancel(self, pulse: int) -> None:
        if self._pending is not None and self._pending.pulse == pulse:
            self._pending = None
        if self._current is not None and self._current[0] == pulse:
            self._current[1].cancel()

    async def _decide(self, decide: Decide) -> None:
        log.debug("agent_prompt", pulse=decide.pulse, prompt=decide.prompt)
        request = GenerationRequest(decide.pulse, decide.prompt, self._tokens, self._temperature)
        answer: list[str] = []
        reasoning: list[str] = []
        failure: str | None = None
        with anyio.CancelScope() as superseded:
            self._current = (decide.pulse, superseded)
            with anyio.move_on_after(self._timeout) as limit:
                try:
                    async with aclosing(self._runner.stream(request)) as chunks:
                        async for chunk in chunks:
                            (reasoning if chunk.reasoning else answer).append(chunk.text)
                except RunnerError as exc:
                    failure = str(exc)
                except Exception as exc:  # a bug in a runner must not stop the agent
                    log.exception("runner_crashed", pulse=decide.pulse)
                    failure = f"client error: {type(exc).__name__}"
        self._current = None
        if superseded.cancelled_caught:
            return  # a newer pulse took over; the machine drops this one anyway
        text = "".join(answer)
        log.debug("agent_answer", pulse=decide.pulse, answer=text, reasoning="".join(reasoning))
        if failure is not None:
            self._feed(DecisionFailed(decide.pulse, failure, self._clock()))
        else:
            made = DecisionMade(
                decide.pulse, text, "".join(reasoning), self._clock(), limit.cancelled_caught
            )
            self._feed(made)


def pulse(report: PulseReport) -> Pulse:
    """The public event for one pulse answered."""
    return Pulse(
        pulse=report.pulse,
        radar=report.radar,
        direction=report.direction,
        say=report.say,
        took_s=report.took,
        fallback=report.fallback,
        score=report.score,
    )


def world_summary(summary: AgentSummary) -> WorldSummary:
    """The public event for the world tally."""
    return WorldSummary(
        pulses=summary.pulses,
        score=summary.score,
        average_decision_s=summary.average_decision,
        fallbacks=summary.fallbacks,
        errors=summary.errors,
    )
