"""The model is loaded when the challenge comes, and stays loaded between rounds.

The arena measures the time to the first token from its broadcast of the
challenge. A model server unloads an idle model (Ollama after 5 minutes; LM
Studio loads just in time), and loading takes seconds to a minute: without
warming, that load is charged to the participant in every round.

- ``warm_up``: after the startup checks, before registering, the runner
  loads the model and says how long it took;
- ``Refresher``: for servers with no keep-alive setting, a tiny request
  whenever the model has been idle for a while, never during a generation
  (a generation cancels a refresh in flight);
- ``hand_back``: at exit, the runner leaves the server as the participant
  had it, and the participant is told what was chosen.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

import anyio
import structlog

from gambiarra.errors import GambiarraError, RunnerError, unwrap
from gambiarra.events import LoadingModel, ModelLoaded, ModelReleased, SessionEvent
from gambiarra.ports import HandBack, ModelHost, ModelRunner, Warmed

__all__ = [
    "LOAD_TIMEOUT",
    "REFRESH_EVERY",
    "Refresher",
    "hand_back",
    "kept_loaded",
    "warm_up",
]

log = structlog.get_logger("gambiarra.warmup")

Say = Callable[[SessionEvent], None]  # as RoundView.show

# Loading a large model on a laptop takes up to a minute or two, with no byte
# on the wire meanwhile; --runner-timeout (for a stalled generation) is shorter.
LOAD_TIMEOUT = 300.0
# Below Ollama's default idle expiry (5 min), the shortest common one: an
# Ollama behind its OpenAI-compatible API stays loaded too.
REFRESH_EVERY = 240.0
# At exit the server gets this long to take the model back.
HAND_BACK_TIMEOUT = 3.0


@asynccontextmanager
async def kept_loaded(runner: ModelRunner, say: Say, *, warm: bool) -> AsyncIterator[None]:
    """Around a session: load the model first, keep it loaded, hand it back at the end.

    With ``warm`` False (``--no-warm``) the server is left to its own policy.

    Raises:
        RunnerError: the model could not be loaded (before the body runs).
    """
    if not warm or not isinstance(runner, ModelHost):
        yield
        return
    await warm_up(runner, say)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(runner.keep)
            yield
            tg.cancel_scope.cancel()
    except Exception as exc:  # the task group wraps what the body raised
        error = unwrap(exc)
        if error is not exc and isinstance(error, GambiarraError):
            raise error from None
        raise
    finally:
        await hand_back(runner, say)


async def warm_up(runner: ModelRunner, say: Say) -> Warmed | None:
    """Load the model now; None when the runner loads nothing (the mock).

    Raises:
        RunnerError: the server could not load the model.
    """
    if not isinstance(runner, ModelHost):
        return None
    say(LoadingModel(model=runner.model))
    warmed = await runner.warm()
    log.info("model_warmed", seconds=round(warmed.seconds, 3), was_loaded=warmed.was_loaded)
    say(ModelLoaded(seconds=warmed.seconds, was_loaded=warmed.was_loaded))
    return warmed


async def hand_back(runner: ModelRunner, say: Say) -> HandBack | None:
    """At exit, whatever ended the session: the runner restores what it changed."""
    if not isinstance(runner, ModelHost):
        return None
    result: HandBack | None = None
    with anyio.move_on_after(HAND_BACK_TIMEOUT, shield=True):
        try:
            result = await runner.release()
        except RunnerError as exc:  # the server may be gone already: nothing to restore
            log.info("model_hand_back_failed", error=str(exc))
    if result is not None:
        say(ModelReleased(hand_back=result))
    return result


class Refresher:
    """Keeps a model loaded on a server with no keep-alive setting.

    Whenever no request has reached the server for ``every`` seconds, it sends
    ``touch`` (a tiny real request). Once no round has run for ``keep_for``
    seconds (None: never) it stops touching, so the server's own idle policy
    applies, until the next round. A generation in progress is never
    disturbed: while one runs nothing is sent, and one that starts cancels a
    touch in flight.

    Args:
        touch: the tiny request.
        every: seconds of silence before a touch.
        keep_for: seconds after the last round to keep touching; None for ever.
        clock, sleep: monotonic seconds and how to wait (tests pass virtual ones).
    """

    def __init__(
        self,
        touch: Callable[[], Awaitable[None]],
        every: float = REFRESH_EVERY,
        keep_for: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self._touch = touch
        self._every = every
        self._keep_for = keep_for
        self._clock = clock
        self._sleep = sleep
        self._generating = 0
        self._last_request = clock()
        self._last_round = self._last_request
        self._touching: anyio.CancelScope | None = None
        self.touches = 0

    @contextmanager
    def generating(self) -> Iterator[None]:
        """Wrap every generation: a touch in flight is cancelled, none starts meanwhile."""
        if self._touching is not None:
            self._touching.cancel()
        self._generating += 1
        try:
            yield
        finally:
            self._generating -= 1
            self._last_request = self._last_round = self._clock()

    async def run(self) -> None:
        """Touch the server while it is idle, until cancelled."""
        while True:
            now = self._clock()
            wait = self._last_request + self._every - now
            dormant = self._keep_for is not None and now - self._last_round >= self._keep_for
            if wait > 0 or self._generating or dormant:
                await self._sleep(wait if wait > 0 else self._every)
                continue
            await self._one_touch()

    async def _one_touch(self) -> None:
        with anyio.CancelScope() as scope:
            self._touching = scope
            try:
                await self._touch()
                self.touches += 1
            except RunnerError as exc:  # the next round will say what is wrong
                log.warning("model_refresh_failed", error=str(exc))
            finally:
                self._touching = None
        if scope.cancelled_caught:
            log.debug("model_refresh_cancelled_by_a_round")
        self._last_request = self._clock()
