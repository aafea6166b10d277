"""The jobs of the command line, as coroutines: play, practice, models, doctor, runners.

``cli`` parses and maps errors to exit codes; this module runs the job. The
sessions (play, agent, practice) go through the public API (``gambiarra.play``
and ``gambiarra.practice``), the same a program uses; the tools wire the
container themselves.
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

import gambiarra
from gambiarra.config import PLUGIN_GROUP, Settings
from gambiarra.containers import Container, build, resolve, shutdown
from gambiarra.doctor import Check, run_checks
from gambiarra.errors import ArenaUnreachable, ExitCode, Interrupted
from gambiarra.history_command import history
from gambiarra.logs import configure
from gambiarra.ports import ModelDescription, ModelRunner
from gambiarra.service import ArenaClient
from gambiarra.session import run_session
from gambiarra.swarm import SwarmStats

__all__ = ["doctor", "execute", "models", "play", "runners", "swarm"]


def execute(
    command: str,
    settings: Settings,
    prompt: str,
    *,
    words: tuple[str, ...] = (),
    csv: bool = False,
) -> int:
    """Run a command to the end on a fresh event loop; return its exit code.

    Raises:
        Interrupted: SIGINT or SIGTERM arrived; everything was stopped cleanly.
    """
    configure(settings.log_level, secrets=settings.secrets)
    jobs: dict[str, Callable[[], Awaitable[int | None]]] = {
        "play": lambda: gambiarra.play(settings, screen="auto"),
        "agent": lambda: gambiarra.play(settings, screen="auto", world=True),
        "practice": lambda: gambiarra.practice(
            settings,
            prompt=prompt,
            # In world mode the client prints each pulse; in rounds, the arena's screen says it all.
            screen="console" if settings.world else None,
            arena_out=sys.stdout,
        ),
        "models": lambda: models(settings),
        "doctor": lambda: doctor(settings),
        "swarm": lambda: swarm(settings),
        "runners": lambda: runners(settings),
        "history": lambda: _history(settings, words, csv),
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
    """Play rounds with what ``container`` builds (tests pass their own)."""
    await run_session(container if container is not None else build(settings), settings)


async def _history(settings: Settings, words: tuple[str, ...], csv: bool) -> None:
    history(settings, words, sys.stdout, csv_out=csv)


async def runners(settings: Settings, out: TextIO | None = None) -> None:
    """Print the built-in runners and the installed plugins."""
    out = out if out is not None else sys.stdout
    found = gambiarra.available_runners()
    if settings.json:
        rows = [
            {
                "name": r.name,
                "builtin": r.builtin,
                "target": r.target,
                "distribution": r.distribution,
            }
            for r in found
        ]
        out.write(json.dumps(rows, ensure_ascii=False) + "\n")
        return
    out.write("embutidos:\n")
    for runner in (r for r in found if r.builtin):
        out.write(f"  {runner.name:<10} {_BUILTIN_RUNNERS.get(runner.name, '')}\n")
    plugins = [r for r in found if not r.builtin]
    out.write(f"instalados (grupo {PLUGIN_GROUP}):\n")
    for plugin in plugins:
        shadowed = (
            " (ignorado: um embutido tem este nome)" if plugin.name in _BUILTIN_RUNNERS else ""
        )
        out.write(f"  {plugin.name:<10} {plugin.target} · {plugin.distribution}{shadowed}\n")
    if not plugins:
        out.write('  (nenhum; veja "Escrevendo um runner" no README)\n')
    out.write("ou qualquer função: --runner pacote.modulo:funcao\n")


_BUILTIN_RUNNERS = {
    "ollama": "Ollama (--ollama-url)",
    "lmstudio": "LM Studio (--lmstudio-url)",
    "llamacpp": "llama-server do llama.cpp (--llamacpp-url)",
    "openai": "servidor compatível com OpenAI: vLLM, LocalAI, Jan... (--base-url)",
    "mock": "modelo de mentira, determinístico (ensaios e testes)",
}


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
