"""doctor: the event-night checklist, each line ✓ or ✗ with what to do.

Checks, in order, each skipped (✗) when the one it needs failed:
the model server answers; the model is installed and generates text (not a
pasted command, a path or an embedding model); how long the model takes to
load; the model generates (a tiny prompt, with its time to first token and
tokens/s); how much of it sits in GPU memory (⚠ when not all of it: a
warning, not a failure); what ``model_info.device`` tells the arena; the
arena answers at ``--url`` (a WebSocket handshake); the PIN is accepted
(only with --pin). At the end the model is handed back as it was found.

The PIN check never takes over the id of a client that is playing (the
arena would hand the id to the doctor's socket and close the player's). It
asks the arena who is connected first:
- the id is connected: the PIN is not tested (the playing client proves it
  works), and the line says so;
- the id is free: it registers under the participant's own id and leaves at
  once (a throwaway id would leave a ghost participant on the organiser's
  screen; the real id registers minutes later anyway);
- the arena does not say (no HTTP side): it registers under a throwaway
  ``doctor-…`` id, the only choice that cannot knock anyone off.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import anyio

from gambiarra.adapters.device import describe_device
from gambiarra.adapters.warmup import hand_back
from gambiarra.config import Settings
from gambiarra.domain.events import GenerationRequest
from gambiarra.domain.metrics import summarize
from gambiarra.domain.protocol import Register, Registered
from gambiarra.errors import ExitCode, GambiarraError, RunnerError
from gambiarra.ports import ModelHost, ModelRunner

__all__ = ["ArenaProbe", "Check", "run_checks"]


class ArenaProbe(Protocol):
    """What ``doctor`` needs of the arena."""

    async def handshake(self) -> None:
        """Open and close a WebSocket; raise ``GambiarraError`` if none opens."""
        ...

    async def register(self, register: Register) -> Registered:
        """Register and leave; raise ``ArenaRejected`` for a wrong PIN."""
        ...

    async def connected_ids(self) -> set[str] | None:
        """Who is connected now, or None when the arena does not say."""
        ...


PROBE_PROMPT = "Responda apenas: ok"


# Below this share of the model in GPU memory, tokens come slowly.
GPU_WARNING_SHARE = 1.0


@dataclass(frozen=True)
class Check:
    """One checklist line. A ``warning`` passes (it does not change the exit code)."""

    ok: bool
    text: str
    exit_code: ExitCode = ExitCode.OK
    warning: bool = False

    @property
    def line(self) -> str:
        mark = "✗" if not self.ok else "⚠" if self.warning else "✓"
        return f"{mark} {self.text}"


async def run_checks(
    settings: Settings,
    runner: ModelRunner,
    probe: ArenaProbe,
    report: Callable[[Check], None],
    clock: Callable[[], float] = anyio.current_time,
) -> list[Check]:
    """Run every check, reporting each as soon as it is known."""
    results: list[Check] = []

    async def step(check: Callable[[], Awaitable[Check]]) -> Check:
        result = await check()
        results.append(result)
        report(result)
        return result

    where = f"{runner.kind} ({settings.model})"
    host = runner if isinstance(runner, ModelHost) else None
    server = await step(lambda: _server(runner, where))
    if server.ok:
        installed = await step(lambda: _installed(runner, where))
        if installed.ok:
            try:
                await _model_checks(runner, host, settings, clock, step)
            finally:
                await hand_back(runner, lambda event: None)  # as the participant had it
        else:
            await step(lambda: _skipped("o modelo responde", "o modelo não está instalado"))
    else:
        await step(lambda: _skipped(f"o modelo {settings.model} está instalado", "sem servidor"))
        await step(lambda: _skipped("o modelo responde", "sem servidor"))
    arena = await step(lambda: _arena(settings, probe))
    if settings.pin:
        if arena.ok:
            await step(lambda: _pin(settings, runner, probe))
        else:
            await step(lambda: _skipped("o PIN é aceito", "a arena não responde"))
    return results


async def _model_checks(
    runner: ModelRunner,
    host: ModelHost | None,
    settings: Settings,
    clock: Callable[[], float],
    step: Callable[[Callable[[], Awaitable[Check]]], Awaitable[Check]],
) -> None:
    """Load, answer, GPU share and identity: the model is there and works."""
    loaded = None if host is None else await step(lambda: _loads(host, clock))
    if loaded is not None and not loaded.ok:
        await step(lambda: _skipped("o modelo responde", "o modelo não carregou"))
        return
    await step(lambda: _answers(runner, settings, clock))
    if host is not None:
        share = (await host.describe()).gpu_share
        if share is not None:
            await step(lambda: _gpu(share))
    await step(lambda: _identity(runner, settings))


async def _loads(host: ModelHost, clock: Callable[[], float]) -> Check:
    try:
        warmed = await host.warm()
    except RunnerError as exc:
        return Check(False, f"o modelo não carregou: {exc}", exc.exit_code)
    if warmed.was_loaded:
        return Check(True, f"o modelo já estava carregado (pronto em {warmed.seconds:.1f} s)")
    return Check(
        True,
        f"o modelo carrega em {warmed.seconds:.1f} s (o cliente carrega antes do 1º desafio "
        "e o mantém carregado)",
    )


async def _gpu(share: float) -> Check:
    if share >= GPU_WARNING_SHARE:
        return Check(True, "o modelo cabe inteiro na memória da GPU")
    if share <= 0:
        return Check(
            True,
            "o modelo roda só na CPU: espere tokens lentos (um modelo menor ajuda)",
            warning=True,
        )
    return Check(
        True,
        f"só {share:.0%} do modelo cabe na GPU: espere tokens lentos (um modelo menor ajuda)",
        warning=True,
    )


async def _identity(runner: ModelRunner, settings: Settings) -> Check:
    if settings.no_device_info:
        return Check(True, "a arena não recebe a descrição da máquina (--no-device-info)")
    return Check(True, f"a arena recebe como descrição: {await describe_device(runner)}")


async def _server(runner: ModelRunner, where: str) -> Check:
    try:
        found = await runner.models()
    except GambiarraError as exc:
        return Check(False, str(exc), exc.exit_code)
    return Check(True, f"o servidor do modelo responde: {where}, {len(found)} modelo(s)")


async def _installed(runner: ModelRunner, where: str) -> Check:
    try:
        await runner.check()
    except GambiarraError as exc:
        return Check(False, str(exc), exc.exit_code)
    return Check(True, f"o modelo está disponível: {where}")


async def _answers(runner: ModelRunner, settings: Settings, clock: Callable[[], float]) -> Check:
    request = GenerationRequest(0, PROBE_PROMPT, max_tokens=16, temperature=0.0, seed=1)
    started, first, tokens = clock(), None, 0
    try:
        with anyio.fail_after(settings.runner_timeout):
            async for chunk in runner.stream(request):
                if not chunk.reasoning and chunk.text:
                    first = first if first is not None else clock()
                    tokens += 1
    except TimeoutError:
        return Check(
            False,
            f"o modelo não terminou uma resposta curta em {settings.runner_timeout:g} s: "
            "confira se a máquina aguenta o modelo (ou use um menor)",
            ExitCode.MODEL_UNAVAILABLE,
        )
    except RunnerError as exc:
        return Check(False, f"o modelo falhou ao responder: {exc}", exc.exit_code)
    m = summarize(started, first, clock(), tokens)
    if tokens == 0:
        return Check(
            False,
            "o modelo respondeu vazio: aumente --max-tokens ou use --no-think",
            ExitCode.MODEL_UNAVAILABLE,
        )
    return Check(
        True,
        f"o modelo responde: 1º token em {m.first_token_ms} ms · "
        f"{m.tokens_per_second:.1f} tokens/s ({tokens} tokens)",
    )


async def _arena(settings: Settings, probe: ArenaProbe) -> Check:
    try:
        await probe.handshake()
    except GambiarraError as exc:
        return Check(False, str(exc), ExitCode.ARENA_UNREACHABLE)
    return Check(True, f"a arena responde em {settings.url}")


async def _pin(settings: Settings, runner: ModelRunner, probe: ArenaProbe) -> Check:
    connected = await probe.connected_ids()
    own = settings.participant_id
    if own and connected is not None and own in connected:
        return Check(
            True,
            f"o id {own} já está jogando nesta arena: o PIN não foi testado para não "
            "derrubar esse cliente",
        )
    participant = own if own and connected is not None else f"doctor-{secrets.token_hex(3)}"
    register = Register(
        participant_id=participant,
        nickname=settings.nickname or participant,
        pin=settings.pin,
        runner=runner.kind,
        model=settings.model,
    )
    try:
        await probe.register(register)
    except GambiarraError as exc:
        return Check(False, str(exc), exc.exit_code)
    return Check(True, f"o PIN é aceito (registrado como {participant} e desconectado)")


async def _skipped(what: str, why: str) -> Check:
    return Check(False, f"{what}: não verificado ({why})", ExitCode.MODEL_UNAVAILABLE)
