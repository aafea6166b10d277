"""Play a session from Python: ``play``, ``practice`` and ``Session`` (public API).

The command line is built on these: ``gambiarra-client`` is ``play`` with a
screen, ``practice`` is ``practice``. What happens reaches a program as typed
events (``gambiarra.events``), to a ``listener`` or iterated from a
``Session``. Events wait in an ``EventFeed`` and are handed over by a task of
their own: a slow listener or consumer never holds a token back from the arena
(answer text that piles up meanwhile is joined into one ``Tokens``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Literal, TextIO, TypeAlias

import anyio
import anyio.abc
import structlog

from gambiarra.adapters.console import EventLines
from gambiarra.adapters.device import describe_device
from gambiarra.adapters.feed import EventFeed, Listener
from gambiarra.adapters.plugins import PluginRunner
from gambiarra.adapters.views import MultiView, SilentView
from gambiarra.adapters.warmup import kept_loaded
from gambiarra.arena.screen import ArenaScreen
from gambiarra.arena.server import PracticeArena
from gambiarra.commands import PRACTICE_PROMPT
from gambiarra.config import Settings
from gambiarra.containers import Container, build, pick_view, resolve, shutdown
from gambiarra.errors import ExitCode, GambiarraError, RunnerFailed, unwrap
from gambiarra.events import (
    CheckingModel,
    Connecting,
    SessionEnded,
    SessionEvent,
    WebViewFailed,
    WebViewStarted,
)
from gambiarra.logs import configure
from gambiarra.ports import ModelRunner, RoundView, RunnerFunction
from gambiarra.service import ArenaClient

__all__ = ["Listener", "Screen", "Session", "play", "practice", "run_session"]

Screen: TypeAlias = Literal["auto", "console", "live", "json"]
"""What to print on stdout, as the command line does: plain lines (``console``),
lines with a live status line (``live``, terminals only), JSON lines (``json``),
or ``auto``: JSON with ``settings.json``, else live on a terminal, else lines."""

# A practice round's deadline, like the arena's default.
PRACTICE_ROUND_TIMEOUT_MS = 90_000


async def play(
    settings: Settings,
    *,
    runner: RunnerFunction | None = None,
    listener: Listener | None = None,
    screen: Screen | None = None,
    world: bool = False,
) -> None:
    """Check the model, join the arena at ``settings.url`` and play its rounds.

    Plays until ``settings.rounds`` rounds were played and delivered (for ever
    when None) or until cancelled; cancelling stops the model and closes the
    link normally, like Ctrl-C.

    Args:
        settings: from ``make_settings("play", ...)`` (or ``"agent"``).
        runner: a runner function to play with, instead of ``settings.runner``.
        listener: called with every event (the last one is ``SessionEnded``).
        screen: also print the session on stdout, as the command line does.
        world: also play the arena's 2-D world (the ``agent`` command).

    Raises:
        RunnerUnavailable: no model server, no such model, or a runner plugin
            that cannot be loaded.
        ArenaRejected: the arena refused the registration (a wrong PIN...).
        ArenaUnreachable: no arena (within ``settings.max_reconnects``).
    """
    _diagnostics(settings)
    feed = None if listener is None else EventFeed(listener)
    await _play(settings, feed, runner, screen, world)


async def practice(
    settings: Settings,
    *,
    prompt: str = PRACTICE_PROMPT,
    runner: RunnerFunction | None = None,
    listener: Listener | None = None,
    screen: Screen | None = None,
    arena_out: TextIO | None = None,
) -> None:
    """Rehearse: a practice arena on loopback, the real client over a real socket.

    Plays ``settings.rounds`` rounds (1 when None) of ``prompt``; with
    ``settings.world``, the 2-D world for ``settings.pulses`` pulses instead.
    ``settings.url`` is ignored (the practice arena has its own).

    Args:
        settings: from ``make_settings("practice", ...)``.
        prompt: the challenge of every round.
        runner, listener, screen: as for ``play``.
        arena_out: where to print what the arena's big screen would show
            (None: nowhere).

    Raises:
        RunnerFailed: the model failed in at least one round (after the session ended).
        RunnerUnavailable: as for ``play``.
    """
    _diagnostics(settings)
    feed = None if listener is None else EventFeed(listener)
    await _practice(settings, feed, prompt, runner, screen, arena_out)


class Session:
    """A session playing in the background while its events are iterated.

    ::

        async with gambiarra.Session(settings, practice=True) as session:
            async for event in session:
                print(event)

    Iteration ends after ``SessionEnded``. Leaving the block stops a session
    still playing (as Ctrl-C does); an error that ended the session is raised
    when the block is left, after its ``SessionEnded`` was iterated.

    Args:
        settings: from ``make_settings``.
        practice: rehearse against a local practice arena (``practice``)
            instead of joining ``settings.url`` (``play``).
        prompt: the practice rounds' challenge.
        runner, screen: as for ``play``.
        world: the 2-D world: played beside the rounds (``play``), or
            rehearsed instead of them (``practice``).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        practice: bool = False,
        prompt: str = PRACTICE_PROMPT,
        runner: RunnerFunction | None = None,
        screen: Screen | None = None,
        world: bool = False,
    ) -> None:
        # ``settings.world`` (``--world``) chooses the world rehearsal too.
        self._settings = replace(settings, world=world or settings.world)
        self._practice = practice
        self._prompt = prompt
        self._runner = runner
        self._screen = screen
        self._feed: EventFeed | None = None  # made on entry: it needs the event loop
        self._group: anyio.abc.TaskGroup | None = None
        self._error: Exception | None = None

    async def __aenter__(self) -> Session:
        _diagnostics(self._settings)
        self._feed = EventFeed()
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._group.start_soon(self._play)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._group is not None
        self._group.cancel_scope.cancel()  # a session still playing stops here
        # Only the session's task is waited for here: an exception the block
        # raised goes on as itself (a task group would wrap it in a group).
        await self._group.__aexit__(None, None, None)
        if self._error is not None and exc is None:
            raise self._error

    def __aiter__(self) -> AsyncIterator[SessionEvent]:
        if self._feed is None:
            raise RuntimeError("iterate a Session inside its async with block")
        return self._feed

    async def _play(self) -> None:
        assert self._feed is not None
        try:
            if self._practice:
                await _practice(
                    self._settings, self._feed, self._prompt, self._runner, self._screen, None
                )
            else:
                settings, world = self._settings, self._settings.world
                await _play(settings, self._feed, self._runner, self._screen, world)
        except Exception as exc:  # raised to the caller when the block is left
            self._error = exc
        finally:
            self._feed.finish()


async def run_session(container: Container, settings: Settings) -> None:
    """Play with what ``container`` builds, to the end; every view gets ``SessionEnded``.

    The seam for tests, which build the container themselves.
    """
    view: RoundView | None = None
    ended = SessionEnded()
    try:
        view = container.view()
        runner = await resolve(container.runner(), ModelRunner)  # type: ignore[type-abstract]
        view.show(CheckingModel(model=settings.model, runner=runner.kind))
        await runner.check()
        # Loaded before registering, kept between rounds, handed back at exit.
        async with kept_loaded(runner, view.show, warm=not settings.no_warm):
            if not settings.no_device_info:
                container.config.device.from_value(await describe_device(runner))
            view.show(Connecting(url=settings.url, nickname=settings.nickname))
            client = await resolve(container.arena_client(), ArenaClient)
            await client.run()
    except GambiarraError as exc:
        ended = SessionEnded(exit_code=int(exc.exit_code), error=str(exc))
        raise
    except anyio.get_cancelled_exc_class():
        ended = SessionEnded(exit_code=int(ExitCode.INTERRUPTED))
        raise
    except Exception as exc:
        # A bug, or what a listener raised: the error itself, not the task groups around it.
        error = unwrap(exc)
        ended = SessionEnded(
            exit_code=int(ExitCode.INTERNAL), error=f"{type(error).__name__}: {error}"
        )
        if error is exc:
            raise
        raise error from exc
    finally:
        if view is not None:
            view.show(ended)
            view.close()  # also when the client never started (idempotent)
        with anyio.move_on_after(1.0, shield=True):  # also when cancelled by a signal
            await shutdown(container)


async def _play(
    settings: Settings,
    feed: EventFeed | None,
    runner: RunnerFunction | None,
    screen: Screen | None,
    world: bool,
) -> None:
    settings, plugin = _with_runner(settings, runner)
    mode = "agent" if world else "rounds"
    view = _view_name(screen, settings)
    container = build(settings, view=view, mode=mode, listener=feed, runner=plugin)
    await run_session(container, settings)


# ---------------------------------------------------------------- practice


async def _practice(
    settings: Settings,
    feed: EventFeed | None,
    prompt: str,
    runner: RunnerFunction | None,
    screen: Screen | None,
    arena_out: TextIO | None,
) -> None:
    settings, plugin = _with_runner(settings, runner)
    rehearsal = _Rehearsal(settings, feed, plugin, _view_name(screen, settings))
    with _arena_screen(arena_out) as board, _unwrapped():
        if settings.world:
            await rehearsal.world(board)
        else:
            await rehearsal.rounds(board, prompt)


@dataclass(frozen=True)
class _Rehearsal:
    settings: Settings
    feed: EventFeed | None
    runner: ModelRunner | None
    view: str

    def _container(self, settings: Settings, board: ArenaScreen, mode: str = "rounds") -> Container:
        listeners: list[RoundView] = [] if self.feed is None else [self.feed]
        if settings.web and self.view == "silent":  # the arena's screen speaks for the client
            listeners.append(_PageNotice(board))
        listener = (
            listeners[0] if len(listeners) == 1 else MultiView(listeners) if listeners else None
        )
        return build(settings, view=self.view, mode=mode, listener=listener, runner=self.runner)

    async def rounds(self, board: ArenaScreen, prompt: str) -> None:
        rounds = self.settings.rounds or 1
        async with PracticeArena(
            pin=self.settings.pin, on_token=board.token, on_done=board.round_done,
            on_round=board.round_started,
        ) as arena:  # fmt: skip
            settings = replace(self.settings, url=arena.url, rounds=rounds)
            board.opened(arena.url, settings)
            failed = 0
            async with anyio.create_task_group() as tg:
                tg.start_soon(run_session, self._container(settings, board), settings)
                await arena.wait_registered(settings.participant_id)
                for _ in range(rounds):
                    record = await arena.start_round(
                        prompt,
                        max_tokens=settings.max_tokens,
                        temperature=settings.temperature,
                        deadline_ms=PRACTICE_ROUND_TIMEOUT_MS,
                    )
                    entry = record.entry(settings.participant_id)
                    await entry.done.wait()
                    failed += bool(entry.errors)
        if failed:
            raise RunnerFailed(f"o modelo falhou em {failed} de {rounds} rodada(s) do ensaio")
        board.finished(rounds)

    async def world(self, board: ArenaScreen) -> None:
        async with PracticeArena(pin=self.settings.pin) as arena:
            world = await arena.start_world(hop_seconds=0.2, stay_seconds=0.6)
            settings = replace(self.settings, url=arena.url)
            board.world_opened(arena.url, settings, world)
            await run_session(self._container(settings, board, mode="agent"), settings)
            board.world_done(world, settings.participant_id)


class _PageNotice(SilentView):
    """The live page's address, printed on the arena's screen when the client's is silent."""

    def __init__(self, board: ArenaScreen) -> None:
        self._board = board

    def show(self, event: SessionEvent) -> None:
        if isinstance(event, (WebViewStarted, WebViewFailed)):
            line = EventLines().line(event)
            if line is not None:
                self._board.note(line)


@contextmanager
def _arena_screen(out: TextIO | None) -> Iterator[ArenaScreen]:
    """The arena's big screen on ``out``; nowhere when None."""
    if out is not None:
        board = ArenaScreen(out)
        try:
            yield board
        finally:
            board.close()  # Ctrl-C mid-answer: the next line starts on its own
        return
    with open(os.devnull, "w", encoding="utf-8") as nowhere:
        yield ArenaScreen(nowhere)


@contextmanager
def _unwrapped() -> Iterator[None]:
    """The error a task group wrapped, raised as itself (``ArenaRejected``, not a group)."""
    try:
        yield
    except Exception as exc:
        error = unwrap(exc)
        if error is exc or not isinstance(error, GambiarraError):
            raise
        raise error from None


def _with_runner(
    settings: Settings, runner: RunnerFunction | None
) -> tuple[Settings, ModelRunner | None]:
    """A program's own runner function, named after itself for the arena."""
    if runner is None:
        return settings, None
    name = getattr(runner, "__name__", "plugin")
    return replace(settings, runner=name), PluginRunner(name, runner, settings.model)


def _diagnostics(settings: Settings) -> None:
    """Unless the program set structlog up itself: stderr, ``settings.log_level``, PIN masked."""
    if not structlog.is_configured():
        configure(settings.log_level, secrets=settings.secrets)


def _view_name(screen: Screen | None, settings: Settings) -> str:
    if screen is None:
        return "silent"
    return pick_view(settings) if screen == "auto" else screen
