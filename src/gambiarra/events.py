"""What happens in a session, as data: the typed events views and programs observe.

Rule 1: events say what happened, never how to say it. No Portuguese here:
the console view (``gambiarra.adapters.console``) is the one place that turns
an event into a line for the participant; the JSON view writes the events
themselves, and a GUI, a web page or a notebook renders them its own way.

Every event is a frozen ``msgspec.Struct`` whose JSON carries its kind in the
``event`` field, so a reader decodes a line of ``--json`` output back into the
event with ``msgspec.json.decode(line, type=SessionEvent)``. Fields are
keyword-only: new fields arrive with defaults, so old readers keep working.

Text that came from outside (the arena's messages, the link's reasons, the
model's answer) is passed on as it arrived; a terminal must clean it first.
"""

from __future__ import annotations

from typing import TypeAlias

import msgspec

from gambiarra.domain.events import Outcome
from gambiarra.domain.metrics import ModelFigures
from gambiarra.ports import HandBack

__all__ = [
    "AnswerRecorded",
    "ArenaWarned",
    "CheckingModel",
    "Connected",
    "Connecting",
    "Disconnected",
    "DrawingOpen",
    "DrawingRound",
    "LateJoin",
    "LoadingModel",
    "ModelLoaded",
    "ModelReleased",
    "Pulse",
    "Reasoning",
    "Retrying",
    "RoundEnded",
    "RoundStarted",
    "SessionEnded",
    "SessionEvent",
    "SessionReplaced",
    "Skipped",
    "TemplateWarning",
    "Tokens",
    "ViewEvent",
    "WebViewFailed",
    "WebViewStarted",
    "WorldStopped",
    "WorldSummary",
    "tag_of",
]


class ViewEvent(msgspec.Struct, frozen=True, tag_field="event"):
    """Base of every session event; its tag is the JSON ``event`` field."""


# ---------------------------------------------------------------- the model


class CheckingModel(ViewEvent, tag="checking_model", kw_only=True, frozen=True):
    """The model server and the model are being checked before anything else."""

    model: str
    runner: str


class LoadingModel(ViewEvent, tag="loading_model", kw_only=True, frozen=True):
    """The model is being loaded before registering (it may take a minute)."""

    model: str


class ModelLoaded(ViewEvent, tag="model_loaded", kw_only=True, frozen=True):
    """The model is loaded. ``was_loaded``: it already was (None: the server does not say)."""

    seconds: float
    was_loaded: bool | None = None


class ModelReleased(ViewEvent, tag="model_released", kw_only=True, frozen=True):
    """At the end: what was done to leave the model server as the participant had it."""

    hand_back: HandBack


# ---------------------------------------------------------------- the link


class Connecting(ViewEvent, tag="connecting", kw_only=True, frozen=True):
    """Connecting to the arena at ``url`` as ``nickname``."""

    url: str
    nickname: str


class Connected(ViewEvent, tag="connected", kw_only=True, frozen=True):
    """Registered with the arena: the first time, or back after a loss.

    ``resent``: messages held while the link was down and written again.
    ``joining_world``: world mode; the avatar joins the 2-D world next.
    """

    first: bool
    resent: int = 0
    session_id: str | None = None
    joining_world: bool = False


class Disconnected(ViewEvent, tag="disconnected", kw_only=True, frozen=True):
    """The link to the arena was lost. ``reason``: the link's own sentence.

    ``generating``: a round is in play; the model goes on and its tokens are held.
    """

    reason: str
    generating: bool = False


class Retrying(ViewEvent, tag="retrying", kw_only=True, frozen=True):
    """The next connection attempt comes after ``delay_s`` seconds."""

    delay_s: float
    attempt: int
    reason: str


class SessionReplaced(ViewEvent, tag="session_replaced", kw_only=True, frozen=True):
    """The organiser opened a new session; the client reconnects (the old PIN is gone)."""


class ArenaWarned(ViewEvent, tag="arena_warned", kw_only=True, frozen=True):
    """The arena sent an error message. ``our_bug``: it rejected one of ours."""

    message: str = ""
    code: str | None = None
    our_bug: bool = False


# ---------------------------------------------------------------- rounds


class LateJoin(ViewEvent, tag="late_join", kw_only=True, frozen=True):
    """A round was already running when we registered; it is played in ``left_ms``."""

    round: int
    left_ms: int


class RoundStarted(ViewEvent, tag="round_started", kw_only=True, frozen=True):
    """A challenge is being played: what the model is asked, after fallbacks.

    ``deadline_at``: when generation stops, on the client's ``time.monotonic()``
    clock (None: no deadline). ``system``: the participant's system prompt.
    """

    round: int
    prompt: str
    max_tokens: int
    temperature: float
    seed: int | None = None
    system: str | None = None
    deadline_at: float | None = None


class DrawingRound(ViewEvent, tag="drawing_round", kw_only=True, frozen=True):
    """The arena says this round asks for an SVG drawing: the answer ends at ``</svg>``."""

    round: int


class Tokens(ViewEvent, tag="tokens", kw_only=True, frozen=True):
    """Answer text sent to the arena: ``count`` model tokens, joined into ``text``."""

    round: int
    text: str
    count: int = 1


class Reasoning(ViewEvent, tag="reasoning", kw_only=True, frozen=True):
    """A reasoning model's thinking: shown, never sent to the arena."""

    round: int
    text: str


class DrawingOpen(ViewEvent, tag="drawing_open", kw_only=True, frozen=True):
    """An SVG round is near the end of its budget and the drawing is still open.

    ``started``: whether ``<svg`` was seen at all.
    """

    round: int
    tokens_left: int
    started: bool


class RoundEnded(ViewEvent, tag="round_ended", kw_only=True, frozen=True):
    """A round is over, with its figures.

    ``tokens``, ``first_token_ms`` and ``duration_ms`` are what the client told
    the arena in its ``complete``; ``tokens_per_second`` is counted the way the
    arena counts it (from the first token to the end). ``model``: the model
    server's own figures, when it reports them. ``reasoning_pieces``: pieces of
    thinking (an empty answer after many means the budget went on thinking).
    ``drawing_closed``: an SVG round stopped right after its ``</svg>``.
    """

    round: int
    outcome: Outcome
    tokens: int
    first_token_ms: int | None
    duration_ms: int
    tokens_per_second: float
    error: str | None = None
    reasoning_pieces: int = 0
    model: ModelFigures | None = None
    drawing_closed: bool = False


class AnswerRecorded(ViewEvent, tag="answer_recorded", kw_only=True, frozen=True):
    """The arena's own record of our answer, read after its ``complete`` arrived.

    ``chars``: the recorded text's length; ``exact``: byte for byte what was sent.
    """

    round: int
    chars: int
    exact: bool


# ---------------------------------------------------------------- world mode


class WorldStopped(ViewEvent, tag="world_stopped", kw_only=True, frozen=True):
    """The organiser's 2-D world is stopped; the client waits before joining it."""


class TemplateWarning(ViewEvent, tag="template_warning", kw_only=True, frozen=True):
    """The participant's agent template lacked a block, which was added at its end."""

    message: str


class Pulse(ViewEvent, tag="pulse", kw_only=True, frozen=True):
    """One radar pulse answered: what the model saw, chose and said, and how long it took.

    ``fallback``: the answer was not in the asked format. ``score``: the arena's.
    """

    pulse: int
    radar: str
    direction: str
    say: str | None
    took_s: float
    fallback: bool
    score: int


class WorldSummary(ViewEvent, tag="world_summary", kw_only=True, frozen=True):
    """The world tally, when the world stops or the client quits."""

    pulses: int
    score: int
    average_decision_s: float
    fallbacks: int
    errors: int


# ---------------------------------------------------------------- the live page (--web)


class WebViewStarted(ViewEvent, tag="web_view_started", kw_only=True, frozen=True):
    """The live page is served at ``url``.

    ``loopback``: only this machine can open it (``--web-host`` was a loopback address).
    """

    url: str
    loopback: bool = True


class WebViewFailed(ViewEvent, tag="web_view_failed", kw_only=True, frozen=True):
    """The live page could not be served on ``host``; the session goes on without it.

    ``reason``: the operating system's words (an address not on this machine, a port in use).
    """

    host: str
    reason: str


# ---------------------------------------------------------------- the session


class Skipped(ViewEvent, tag="skipped", kw_only=True, frozen=True):
    """A screen that could not keep up left out this many status lines."""

    lines: int


class SessionEnded(ViewEvent, tag="session_ended", kw_only=True, frozen=True):
    """The last event of a session.

    ``exit_code``: what the command line would exit with (0: a normal end;
    130: stopped from outside). ``error``: the one line saying what went wrong.
    """

    exit_code: int = 0
    error: str | None = None


SessionEvent: TypeAlias = (
    CheckingModel
    | LoadingModel
    | ModelLoaded
    | ModelReleased
    | Connecting
    | Connected
    | Disconnected
    | Retrying
    | SessionReplaced
    | ArenaWarned
    | LateJoin
    | RoundStarted
    | DrawingRound
    | Tokens
    | Reasoning
    | DrawingOpen
    | RoundEnded
    | AnswerRecorded
    | WorldStopped
    | TemplateWarning
    | Pulse
    | WorldSummary
    | Skipped
    | WebViewStarted
    | WebViewFailed
    | SessionEnded
)
"""Every event a session produces; decode ``--json`` lines with this type."""


def tag_of(event: ViewEvent) -> str:
    """The event's kind, as its JSON ``event`` field says it (``round_started``...)."""
    return str(type(event).__struct_config__.tag)
