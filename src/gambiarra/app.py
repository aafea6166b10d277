"""The jobs of the command line, as coroutines: play, practice, models, doctor.

``cli`` parses and maps errors to exit codes; this module wires the container
and runs the job (and, for practice, a local arena beside the client).
"""

from __future__ import annotations

import gc
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TextIO

import anyio

from gambiarra.adapters.device import describe_device
from gambiarra.adapters.warmup import kept_loaded
from gambiarra.arena.screen import ArenaScreen
from gambiarra.arena.server import PracticeArena
from gambiarra.config import Settings
from gambiarra.containers import Container, build, resolve, shutdown
from gambiarra.doctor import Check, run_checks
from gambiarra.errors import ArenaUnreachable, ExitCode, Interrupted, RunnerFailed
from gambiarra.logs import configure
from gambiarra.ports import ModelDescription, ModelRunner, RoundView
from gambiarra.service import ArenaClient
from gambiarra.swarm import SwarmStats

__all__ = ["doctor", "execute", "models", "play", "practice", "practice_world", "swarm"]

PRACTICE_ROUND_TIMEOUT_MS = 90_000


def execute(command: str, settings: Settings, prompt: str) -> int:
    """Run a command to the end on a fresh event loop; return its exit code.

    Raises:
        Interrupted: SIGINT or SIGTERM arrived; everything was stopped cleanly.
    """
    configure(settings.log_level, secrets=settings.secrets)
    jobs: dict[str, Callable[[], Awaitable[int | None]]] = {
        "play": lambda: play(settings),
        "agent": lambda: play(settings, build(settings, mode="agent")),
        "practice": lambda: (
            practice_world(settings) if settings.world else practice(settings, prompt)
        ),
        "models": lambda: models(settings),
        "doctor": lambda: doctor(settings),
        "swarm": lambda: swarm(settings),
    }
    code, received = anyio.run(_until_signal, jobs[command])
    if received is not None:
        raise Interrupted(terminated=received == signal.SIGTERM)
    return code


async def _until_signal(job: Callable[[], Awaitable[int | None]]) -> tuple[int, int | None]:
    """Run the job; on SIGINT/SIGTERM cancel it (closing the socket normally)."""
    received: int | None = None
    code: int = ExitCode.OK

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
        code = await job() or ExitCode.OK
        tg.cancel_scope.cancel()
    return code, received


async def _runner(container: Container) -> ModelRunner:
    return await resolve(container.runner(), ModelRunner)  # type: ignore[type-abstract]


async def play(settings: Settings, container: Container | None = None) -> None:
    """Check the model, join the arena and play rounds (the original client)."""
    container = container if container is not None else build(settings)
    view: RoundView | None = None
    try:
        runner = await _runner(container)
        view = container.view()
        view.status("checking_model", f"verificando o modelo {settings.model} ({runner.kind})...")
        await runner.check()
        # Loaded before registering, kept between rounds, handed back at exit.
        async with kept_loaded(runner, view.status, warm=not settings.no_warm):
            if not settings.no_device_info:
                container.config.device.from_value(await describe_device(runner))
            view.status("connecting", f"conectando em {settings.url} como {settings.nickname}...")
            client = await resolve(container.arena_client(), ArenaClient)
            await client.run()
    finally:
        if view is not None:
            view.close()  # also when the client never started (idempotent)
        with anyio.move_on_after(1.0, shield=True):  # also when cancelled by a signal
            await shutdown(container)


async def practice(settings: Settings, prompt: str, out: TextIO | None = None) -> None:
    """Rehearse: a local arena, the real client over a real socket, N rounds.

    Raises:
        RunnerFailed: the model failed in at least one round.
    """
    screen = ArenaScreen(out if out is not None else sys.stdout)
    rounds = settings.rounds or 1
    failed = 0
    try:
        async with PracticeArena(
            pin=settings.pin, on_token=screen.token, on_done=screen.round_done,
            on_round=screen.round_started,
        ) as arena:  # fmt: skip
            settings = replace(settings, url=arena.url, rounds=rounds)
            screen.opened(arena.url, settings)
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
    finally:
        screen.close()  # Ctrl-C mid-answer: the next line starts on its own
    if failed:
        raise RunnerFailed(f"o modelo falhou em {failed} de {rounds} rodada(s) do ensaio")
    screen.finished(rounds)


async def practice_world(settings: Settings, out: TextIO | None = None) -> None:
    """Rehearse world mode: a local 2-D world, the real agent over a real socket.

    The client prints one line per pulse; the arena's own tally closes the run.
    """
    out = out if out is not None else sys.stdout
    screen = ArenaScreen(out)
    async with PracticeArena(pin=settings.pin) as arena:
        world = await arena.start_world(hop_seconds=0.2, stay_seconds=0.6)
        settings = replace(settings, url=arena.url)
        screen.world_opened(arena.url, settings, world)
        await play(settings, build(settings, view="console", mode="agent"))
        screen.world_done(world, settings.participant_id)


async def models(settings: Settings, out: TextIO | None = None) -> None:
    """Print the models installed on the chosen runner."""
    out = out if out is not None else sys.stdout
    container = build(settings, view="silent")
    try:
        found = await (await _runner(container)).models()
    finally:
        await shutdown(container)
    if settings.json:
        out.write(json.dumps([_described(m) for m in found], ensure_ascii=False) + "\n")
        return
    for model in found:
        out.write(_model_line(model) + "\n")
    if not found:
        out.write(f"(nenhum modelo instalado em {settings.runner})\n")


async def doctor(settings: Settings, out: TextIO | None = None) -> int:
    """Print the event-night checklist; 0 only when every check passed."""
    out = out if out is not None else sys.stdout
    container = build(settings, view="silent")

    def report(check: Check) -> None:
        out.write(check.line + "\n")
        out.flush()

    probe = container.arena_probe()
    try:
        results = await run_checks(settings, await _runner(container), probe, report)
    finally:
        await probe.aclose()
        await shutdown(container)
    failed = [check for check in results if not check.ok]
    out.write(
        "tudo pronto para o evento\n"
        if not failed
        else f"{len(failed)} de {len(results)} itens precisam de atenção\n"
    )
    return failed[0].exit_code if failed else ExitCode.OK


async def swarm(settings: Settings, out: TextIO | None = None) -> None:
    """Run N simulated participants until stopped (or ``--rounds``), then print the tally."""
    stats = SwarmStats(out if out is not None else sys.stdout)
    # A rehearsal leaves the model server's keep-alive alone (nothing hands it back).
    container = build(replace(settings, no_warm=True), view="silent")
    try:
        shared = None
        if settings.runner != "mock":
            shared = await _runner(container)
            await shared.check()
        async with anyio.create_task_group() as tg:
            started = anyio.current_time()
            for index in range(settings.count):
                # Ramp up: a room of clients connecting at once is a thundering herd.
                await anyio.sleep(max(0.0, started + index / settings.ramp - anyio.current_time()))
                client = container.swarm_client(index=index, stats=stats, shared_runner=shared)
                tg.start_soon(_swarm_participant, client, stats)
                if index % 50 == 49:
                    # A thousand links are a million long-lived objects: a full
                    # garbage collection over them stalls every participant for
                    # a few hundred ms. They live to the end, so keep them out
                    # of the collector's sight (freezing is cheap; collecting is not).
                    gc.freeze()
            await anyio.sleep(1.0)  # the last connections settle, then freeze them too
            gc.freeze()
    finally:
        with anyio.move_on_after(1.0, shield=True):
            await shutdown(container)
        stats.print_final()
        if settings.json:
            stats.out.write(stats.json_line() + "\n")


async def _swarm_participant(client: ArenaClient, stats: SwarmStats) -> None:
    """One participant; giving up on the arena is counted, not fatal to the swarm."""
    try:
        await client.run()
    except ArenaUnreachable:
        stats.gave_up += 1


def _described(model: ModelDescription) -> dict[str, Any]:
    return {"name": model.name, "size_bytes": model.size_bytes, "family": model.family}


def _model_line(model: ModelDescription) -> str:
    size = "" if model.size_bytes is None else f"{model.size_bytes / 1e9:.1f} GB"
    return "  ".join(part for part in (model.name, size, model.family or "") if part)
