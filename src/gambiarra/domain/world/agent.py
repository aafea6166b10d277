"""The agent state machine: radar pulses in, one action per pulse out; no I/O.

Rule 1: everything that decides what the agent sends lives here.

- Only the newest pulse matters: a perception that arrives while the model
  is still deciding on an older one cancels that decision, and a decision
  that comes back for an old pulse is dropped (the arena would waste it).
- While a round is being played the model is busy: perceptions are kept
  (the newest only) and decided on when the round ends.
- A model error or an empty answer still answers the pulse: ``STAY`` with a
  short ``say`` saying why, so the avatar is never stuck.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from msgspec import UNSET

from gambiarra.domain.events import Send
from gambiarra.domain.protocol import AgentAction, AgentPrompt, Perception, WorldJoin
from gambiarra.domain.text import utf16_len, utf16_truncate
from gambiarra.domain.world.decision import SAY_LIMIT, Decision, Source, parse_decision
from gambiarra.domain.world.prompt import Briefing

__all__ = [
    "AgentMachine",
    "AgentStep",
    "AgentSummary",
    "CancelDecision",
    "Decide",
    "DecisionFailed",
    "DecisionMade",
    "Joined",
    "PerceptionReceived",
    "PulseAnswered",
    "PulseReport",
    "RoundBusy",
    "RoundFree",
    "radar_summary",
]

# ---------------------------------------------------------------- events in


@dataclass(frozen=True, slots=True)
class Joined:
    """Registered (again): join the world and report the prompt template."""

    at: float


@dataclass(frozen=True, slots=True)
class PerceptionReceived:
    perception: Perception
    at: float


@dataclass(frozen=True, slots=True)
class DecisionMade:
    pulse: int
    answer: str
    reasoning: str
    at: float
    timed_out: bool = False


@dataclass(frozen=True, slots=True)
class DecisionFailed:
    pulse: int
    message: str
    at: float


@dataclass(frozen=True, slots=True)
class RoundBusy:
    """A round started: the model is taken."""

    at: float


@dataclass(frozen=True, slots=True)
class RoundFree:
    at: float


AgentEvent = Joined | PerceptionReceived | DecisionMade | DecisionFailed | RoundBusy | RoundFree

# ---------------------------------------------------------------- actions out


@dataclass(frozen=True, slots=True)
class Decide:
    pulse: int
    prompt: str


@dataclass(frozen=True, slots=True)
class CancelDecision:
    pulse: int


@dataclass(frozen=True, slots=True)
class PulseReport:
    pulse: int
    radar: str
    direction: str
    say: str | None
    took: float
    fallback: bool
    score: int


@dataclass(frozen=True, slots=True)
class PulseAnswered:
    report: PulseReport


AgentStep = Send | Decide | CancelDecision | PulseAnswered


@dataclass
class AgentSummary:
    pulses: int = 0
    score: int = 0
    fallbacks: int = 0
    decision_time: float = 0.0
    errors: int = 0

    @property
    def average_decision(self) -> float:
        return self.decision_time / self.pulses if self.pulses else 0.0


def radar_summary(perception: Perception) -> str:
    """A short Portuguese summary of a pulse, for the participant's line."""
    food = perception.nearest_food
    parts = [f"comida a {food.direction} ({food.distance})" if food else "sem comida à vista"]
    if perception.walls:
        parts.append(perception.walls)
    if perception.bumped:
        parts.append("bateu na parede")
    return "; ".join(parts)


@dataclass
class AgentMachine:
    """Plays one participant's avatar."""

    participant_id: str
    briefing: Briefing = field(default_factory=Briefing)
    emoji: str | None = None
    color: str | None = None
    summary: AgentSummary = field(default_factory=AgentSummary)
    _latest: Perception | None = None
    _deciding: int | None = None
    _started: float = 0.0
    _busy: bool = False

    def handle(self, event: AgentEvent) -> list[AgentStep]:
        if isinstance(event, Joined):
            return [Send(self._join()), Send(self._prompt())]
        if isinstance(event, PerceptionReceived):
            return self._on_perception(event)
        if isinstance(event, RoundBusy):
            self._busy = True
            return self._cancel()
        if isinstance(event, RoundFree):
            self._busy = False
            return self._decide_latest(event.at)
        if event.pulse != self._deciding or self._latest is None:
            return []  # a decision for a pulse that is no longer the newest
        if isinstance(event, DecisionMade):
            decision = parse_decision(event.answer, event.reasoning)
            if event.timed_out and decision.source is Source.NOTHING:
                decision = Decision("STAY", "pensei demais e o tempo acabou", Source.NOTHING)
            return self._answer(decision, event.at)
        self.summary.errors += 1
        failed = Decision("STAY", _short(f"erro do modelo: {event.message}"), Source.NOTHING)
        return self._answer(failed, event.at)

    # ------------------------------------------------------------ transitions

    def _on_perception(self, event: PerceptionReceived) -> list[AgentStep]:
        self._latest = event.perception
        self.summary.score = event.perception.score
        actions = self._cancel()
        if not self._busy:
            actions.extend(self._decide_latest(event.at))
        return actions

    def _decide_latest(self, at: float) -> list[AgentStep]:
        perception = self._latest
        if perception is None or self._deciding == perception.pulse:
            return []
        self._deciding, self._started = perception.pulse, at
        prompt = self.briefing.render(perception.objective, perception.radar_text)
        return [Decide(perception.pulse, prompt)]

    def _cancel(self) -> list[AgentStep]:
        if self._deciding is None:
            return []
        pulse, self._deciding = self._deciding, None
        return [CancelDecision(pulse)]

    def _answer(self, decision: Decision, at: float) -> list[AgentStep]:
        assert self._latest is not None
        pulse, took, radar = self._latest.pulse, at - self._started, radar_summary(self._latest)
        self._deciding = None
        self._latest = None  # answered: wait for the next pulse
        self.summary.pulses += 1
        self.summary.fallbacks += decision.fallback
        self.summary.decision_time += took
        action = AgentAction(
            participant_id=self.participant_id,
            direction=decision.direction,
            pulse=pulse,
            say=decision.say if decision.say else UNSET,
        )
        report = PulseReport(
            pulse, radar, decision.direction, decision.say, took, decision.fallback,
            self.summary.score,
        )  # fmt: skip
        return [Send(action), PulseAnswered(report)]

    def _join(self) -> WorldJoin:
        return WorldJoin(
            participant_id=self.participant_id,
            emoji=self.emoji if self.emoji else UNSET,
            color=self.color if self.color else UNSET,
            strategy_summary=_short(self.briefing.strategy, 120),
        )

    def _prompt(self) -> AgentPrompt:
        return AgentPrompt(
            participant_id=self.participant_id,
            template=self.briefing.template,  # prepare_template kept it within the limit
            is_default=self.briefing.is_default,
        )


def _short(text: str, limit: int = SAY_LIMIT) -> str:
    # The arena counts text in UTF-16 units (protocol.md): an emoji counts 2.
    text = " ".join(text.split())
    return text if utf16_len(text) <= limit else utf16_truncate(text, limit - 1) + "…"
