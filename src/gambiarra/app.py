"""The two jobs of the command line, as coroutines: play and practice.

``cli`` parses and maps errors to exit codes; this module wires the container
and runs the client (and, for practice, a local arena beside it).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TextIO

import anyio

from gambiarra.arena.screen import ArenaScreen
from gambiarra.arena.server import PracticeArena
from gambiarra.config import Settings
from gambiarra.containers import Container, build, resolve, shutdown
from gambiarra.errors import Interrupted, RunnerFailed
from gambiarra.logs import configure
from gambiarra.ports import ModelRunner, RoundView
from gambiarra.service import ArenaClient

__all__ = ["execute", "play", "practice"]

PRACTICE_ROUND_TIMEOUT_MS = 90_000


def execute(command: str, settings: Settings, prompt: str) -> None:
    """Run ``play`` or ``practice`` to the end on a fresh event loop.

    Raises:
        Interrupted: SIGINT or SIGTERM arrived; everything was stopped cleanly.
    """
    configure(settings.log_level, secrets=(settings.pin,))
    if command == "practice":
        received = anyio.run(_until_signal, practice, settings, prompt)
    else:
        received = anyio.run(_until_signal, play, settings)
    if received is not None:
        raise Interrupted(terminated=received == signal.SIGTERM)


async def _until_signal(job: Callable[..., Awaitable[None]], *args: Any) -> int | None:
    """Run the job; on SIGINT/SIGTERM cancel it (closing the socket normally)."""
    received: int | None = None

    async def watch(scope: anyio.CancelScope) -> None:
        nonlocal received
        try:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for signum in signals:
                    received = signum
                    scope.cancel()
                    return
        except NotImplementedError:  # Windows: Ctrl-C arrives as KeyboardInterrupt
            return

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch, tg.cancel_scope)
        await job(*args)
        tg.cancel_scope.cancel()
    return received


async def play(settings: Settings, container: Container | None = None) -> None:
    """Check the model, join the arena and play rounds (the original client)."""
    container = container if container is not None else build(settings)
    try:
        runner = await resolve(container.runner(), ModelRunner)  # type: ignore[type-abstract]
        view: RoundView = container.view()
        view.status(f"verificando o modelo {settings.model} ({runner.kind})...")
        await runner.check()
        view.status(f"conectando em {settings.url} como {settings.nickname}...")
        client = await resolve(container.arena_client(), ArenaClient)
        await client.run()
    finally:
        with anyio.move_on_after(1.0, shield=True):  # also when cancelled by a signal
            await shutdown(container)


async def practice(settings: Settings, prompt: str, out: TextIO | None = None) -> None:
    """Rehearse: a local arena, the real client over a real socket, N rounds.

    Raises:
        RunnerFailed: the model failed in at least one round.
    """
    screen = ArenaScreen(out if out is not None else sys.stdout)
    rounds = settings.rounds or 1
    async with PracticeArena(
        pin=settings.pin, on_token=screen.token, on_done=screen.round_done,
        on_round=screen.round_started,
    ) as arena:  # fmt: skip
        settings = replace(settings, url=arena.url, rounds=rounds)
        screen.opened(arena.url, settings)
        failed = 0
        async with anyio.create_task_group() as tg:
            tg.start_soon(play, settings, build(settings, view="silent"))
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
    screen.finished(rounds)
