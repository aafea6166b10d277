"""The composition root: the only module that knows the concrete adapters.

Everything is built from a ``Settings`` through one dependency-injector
``Container``; the runner is picked by name with a ``Selector``. Each HTTP
client is an async ``Resource`` so its connection pool is reused for the
whole session and closed at shutdown. Tests override providers with fakes.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import ssl
import sys
from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import httpx
from dependency_injector import containers, providers

from gambiarra.adapters.archive import ArchiveView
from gambiarra.adapters.arena_http import ArenaHttp
from gambiarra.adapters.arena_link import ArenaLink
from gambiarra.adapters.arena_probe import ArenaProbe
from gambiarra.adapters.arena_socket import SocketOptions
from gambiarra.adapters.console import ConsoleView
from gambiarra.adapters.history_view import HistoryView, history_path
from gambiarra.adapters.jsonlines import JsonLinesView
from gambiarra.adapters.live import LiveView
from gambiarra.adapters.llamacpp import LlamaCppRunner
from gambiarra.adapters.mock import MockRunner
from gambiarra.adapters.model_transport import model_transport
from gambiarra.adapters.ollama import OllamaRunner
from gambiarra.adapters.openai_compat import OpenAICompatRunner
from gambiarra.adapters.plugins import PluginRunner, load_runner
from gambiarra.adapters.screen_buffer import buffered_stdout
from gambiarra.adapters.views import MultiView, SilentView
from gambiarra.adapters.web.view import WebView
from gambiarra.config import Settings
from gambiarra.domain.prompting import PromptStyle
from gambiarra.domain.protocol import ModelInfo, Register
from gambiarra.domain.round import Fallbacks, RoundMachine
from gambiarra.domain.world.agent import AgentMachine
from gambiarra.domain.world.prompt import (
    DEFAULT_TEMPLATE,
    Briefing,
    prepare_template,
    resolve_strategy,
)
from gambiarra.errors import ConfigError
from gambiarra.ports import ModelRunner, RoundView
from gambiarra.service import ArenaClient
from gambiarra.swarm import SwarmProbe, SwarmStats, parse_tps_range, participant_tps
from gambiarra.world import WorldPlayer

__all__ = ["Container", "build", "resolve", "shutdown"]

T = TypeVar("T")


async def http_client(
    base_url: str, read_timeout: float, api_key: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """One pooled client per model server, closed when the container shuts down.

    ``read_timeout``: no byte from the model server for this long fails the
    round (not the session). ``trust_env=False``: the model server is on this
    machine or the LAN, so a corporate HTTP proxy from the environment must
    not be used for it. An API key travels only in this header. The bytes
    go through ``model_transport()`` (aiohttp's C parser when it is there).
    """
    timeout = httpx.Timeout(read_timeout, connect=5.0)
    headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
    async with httpx.AsyncClient(
        base_url=base_url,
        timeout=timeout,
        trust_env=False,
        headers=headers,
        transport=model_transport(),
    ) as client:
        yield client


def tls_context(ca_file: str | None) -> ssl.SSLContext | None:
    """Trust the organiser's own certificate as well as the system's, if given.

    Raises:
        ConfigError: the file cannot be read as a PEM certificate.
    """
    if ca_file is None:
        return None
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"--ca-file {ca_file}: não consegui ler o certificado ({exc})") from None


def read_template(path: str | None) -> str | None:
    """The prompt template's text (the CLI already checked it has ``{prompt}``)."""
    if path is None:
        return None
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--prompt-template {path}: não consegui ler ({exc.strerror})") from None


def make_world_player(
    runner: ModelRunner,
    view: RoundView,
    participant_id: str,
    emoji: str,
    color: str | None,
    strategy: str,
    template_path: str | None,
    decision_timeout: float,
    decision_tokens: int,
    temperature: float,
    max_pulses: int | None,
) -> WorldPlayer:
    """The world-mode player, with the participant's template and strategy."""
    template = DEFAULT_TEMPLATE
    if template_path is not None:
        try:
            template = Path(template_path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"--agent-template {template_path}: não consegui ler ({exc.strerror})"
            ) from None
    template, warnings = prepare_template(template)
    machine = AgentMachine(
        participant_id,
        Briefing(template, resolve_strategy(strategy)),
        emoji=emoji,
        color=color,
    )
    return WorldPlayer(
        runner,
        machine,
        view,
        decision_timeout=decision_timeout,
        decision_tokens=decision_tokens,
        temperature=temperature,
        max_pulses=max_pulses,
        warnings=tuple(warnings),
    )


def make_swarm_client(
    index: int,
    stats: SwarmStats,
    shared_runner: ModelRunner | None,
    url: str,
    pin: str,
    id_prefix: str,
    tps: str,
    seed: int,
    max_tokens: int,
    temperature: float,
    rounds: int | None,
    max_reconnects: int | None,
    ssl_context: ssl.SSLContext | None,
) -> ArenaClient:
    """One simulated participant: the real client with a mock model at its own pace."""
    participant_id = f"{id_prefix}{index:04d}"
    schedule: deque[float] = deque()
    low, high = parse_tps_range(tps)
    runner = shared_runner or MockRunner(
        "mock", participant_tps(index, low, high, seed), schedule=schedule
    )
    register = Register(
        participant_id=participant_id,
        nickname=f"Robô {index}",
        pin=pin,
        runner=runner.kind,
        model=runner.model,
    )
    # A slower ack keeps a thousand links from pinging 10 000 times a second,
    # and no HTTP side: a thousand participants must not poll the arena.
    transport = ArenaLink(
        url,
        register,
        socket=SocketOptions(ssl_context=ssl_context),
        max_reconnects=max_reconnects,
        ack_interval=2.0,
    )
    machine = RoundMachine(
        participant_id,
        ModelInfo(name=runner.model, runner=runner.kind),
        Fallbacks(max_tokens, temperature),
    )
    return ArenaClient(transport, runner, machine, SwarmProbe(stats, schedule), max_rounds=rounds)


def compose_views(
    screen: RoundView,
    listener: RoundView | None,
    save_dir: str | None,
    runner: str,
    model: str,
    history: Path | None = None,
    arena_url: str = "",
    device: Callable[[], str | None] = lambda: None,
    web_host: str | None = None,
) -> RoundView:
    """The screen, then a program's listener, the round archive (``--save-dir``), the history,
    the live page (``--web``: ``web_host`` is where it listens; None: no page)."""
    views = [screen]
    if listener is not None:
        views.append(listener)
    if save_dir is not None:
        views.append(ArchiveView(save_dir, runner, model))
    if history is not None:
        views.append(HistoryView(history, arena_url, runner, model, device))
    web = None if web_host is None else WebView(web_host, history=history, model=model)
    if web is not None:
        views.append(web)
    composed = views[0] if len(views) == 1 else MultiView(views)
    if web is not None:
        web.announce = composed.show  # the page's address reaches the screen and listeners
    return composed


def page_host(web: bool, host: str) -> str | None:
    """Where the live page listens; None without ``--web``."""
    return host if web else None


def plugin_runner(spec: str, model: str) -> PluginRunner:
    """A runner plugin, loaded now so that a missing one stops the start (exit 4).

    Raises:
        RunnerUnavailable: the plugin cannot be imported, or is no runner function.
    """
    return PluginRunner(spec, load_runner(spec), model)


def keep_alive_seconds(keep_alive: float | None, no_warm: bool) -> float | None:
    """The runners' keep-alive: None with warming off; -1 (while the client runs) by default."""
    if no_warm:
        return None
    return -1.0 if keep_alive is None else keep_alive


def think_default(mode: str) -> bool | None:
    """World mode decides in 64 tokens: a model that can think must not spend them thinking."""
    return False if mode == "agent" else None


def model_info(name: str, runner: str, device: str | None) -> ModelInfo:
    """``device`` is omitted, never null, when there is none (protocol.md)."""
    if device is None:
        return ModelInfo(name=name, runner=runner)
    return ModelInfo(name=name, runner=runner, device=device)


def openai_base(url: str) -> str:
    """Accept ``http://host:8000/v1`` too: the OpenAI SDKs' habit."""
    url = url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


class Container(containers.DeclarativeContainer):
    config = providers.Configuration(strict=True)

    ollama_http = providers.Resource(
        http_client, base_url=config.ollama_url, read_timeout=config.runner_timeout
    )
    lmstudio_http = providers.Resource(
        http_client, base_url=config.lmstudio_url, read_timeout=config.runner_timeout
    )
    llamacpp_http = providers.Resource(
        http_client, base_url=config.llamacpp_url, read_timeout=config.runner_timeout
    )
    openai_http = providers.Resource(
        http_client,
        base_url=providers.Callable(openai_base, config.base_url),
        read_timeout=config.runner_timeout,
        api_key=config.api_key,
    )
    keep_alive = providers.Callable(keep_alive_seconds, config.keep_alive, config.no_warm)

    runner = providers.Selector(
        config.runner_kind,
        ollama=providers.Singleton(
            OllamaRunner,
            http=ollama_http,
            model=config.model,
            api=config.api,
            think=config.think,
            think_default=providers.Callable(think_default, config.mode),
            keep_alive=keep_alive,
        ),
        lmstudio=providers.Singleton(
            OpenAICompatRunner,
            http=lmstudio_http,
            model=config.model,
            kind="lmstudio",
            api=config.api,
            keep_alive=keep_alive,
        ),
        openai=providers.Singleton(
            OpenAICompatRunner,
            http=openai_http,
            model=config.model,
            kind="openai",
            api=config.api,
            keep_alive=keep_alive,
        ),
        llamacpp=providers.Singleton(
            LlamaCppRunner,
            http=llamacpp_http,
            model=config.model,
        ),
        mock=providers.Singleton(MockRunner, model=config.model, tokens_per_second=config.mock_tps),
        plugin=providers.Singleton(plugin_runner, spec=config.runner, model=config.model),
    )

    # What writes to stdout sits behind a buffer drawn in its own task, so the
    # screen never holds the arena back; the archive stays outside it.
    screen = providers.Selector(
        config.view,
        console=providers.Singleton(buffered_stdout, providers.Singleton(ConsoleView)),
        live=providers.Singleton(buffered_stdout, providers.Singleton(LiveView)),
        json=providers.Singleton(buffered_stdout, providers.Singleton(JsonLinesView)),
        silent=providers.Singleton(SilentView),
    )
    # A program's listener (``gambiarra.play(listener=...)``) sees what the screen sees.
    listener: providers.Object[RoundView | None] = providers.Object(None)
    view = providers.Singleton(
        compose_views,
        screen=screen,
        listener=listener,
        save_dir=config.save_dir,
        runner=config.runner,
        model=config.model,
        history=providers.Callable(history_path, config.history, config.no_history),
        arena_url=config.url,
        device=config.device.provider,  # known only once the model was looked at
        web_host=providers.Callable(page_host, config.web, config.web_host),
    )

    tls = providers.Singleton(tls_context, config.ca_file)
    socket_options = providers.Factory(SocketOptions, ssl_context=tls)
    arena_http = providers.Factory(
        ArenaHttp, ws_url=config.url, participant_id=config.participant_id, ssl_context=tls
    )

    transport = providers.Singleton(
        ArenaLink,
        url=config.url,
        http=arena_http,
        socket=socket_options,
        max_reconnects=config.max_reconnects,
        register=providers.Factory(
            Register,
            participant_id=config.participant_id,
            nickname=config.nickname,
            pin=config.pin,
            runner=config.runner,
            model=config.model,
        ),
    )

    arena_probe = providers.Factory(
        ArenaProbe, url=config.url, http=arena_http, options=socket_options
    )

    machine = providers.Factory(
        RoundMachine,
        participant_id=config.participant_id,
        model_info=providers.Callable(
            model_info, name=config.model, runner=config.runner, device=config.device
        ),
        fallbacks=providers.Factory(
            Fallbacks, max_tokens=config.max_tokens, temperature=config.temperature
        ),
        style=providers.Factory(
            PromptStyle,
            system=config.system,
            template=providers.Callable(read_template, config.prompt_template),
        ),
    )

    world = providers.Selector(
        config.mode,
        rounds=providers.Object(None),
        agent=providers.Factory(
            make_world_player,
            runner=runner,
            view=view,
            participant_id=config.participant_id,
            emoji=config.emoji,
            color=config.color,
            strategy=config.strategy,
            template_path=config.agent_template,
            decision_timeout=config.decision_timeout,
            decision_tokens=config.decision_budget,
            temperature=config.temperature,
            max_pulses=config.pulses,
        ),
    )

    arena_client = providers.Factory(
        ArenaClient,
        transport=transport,
        runner=runner,
        machine=machine,
        view=view,
        max_rounds=config.rounds,
        world=world,
    )

    swarm_client = providers.Factory(
        make_swarm_client,
        url=config.url,
        pin=config.pin,
        id_prefix=config.id_prefix,
        tps=config.tps,
        seed=config.seed,
        max_tokens=config.max_tokens,
        temperature=config.temperature,
        rounds=config.rounds,
        max_reconnects=config.max_reconnects,
        ssl_context=tls,
    )


def pick_view(settings: Settings) -> str:
    """JSON lines when asked; a live status line on a real terminal; plain lines otherwise."""
    if settings.json:
        return "json"
    if sys.stdout.isatty() and os.environ.get("TERM", "dumb") != "dumb":
        return "live"
    return "console"


def build(
    settings: Settings,
    *,
    view: str | None = None,
    mode: str = "rounds",
    listener: RoundView | None = None,
    runner: ModelRunner | None = None,
) -> Container:
    """A container configured from settings.

    Args:
        settings: the options of this run.
        view: ``console``, ``live``, ``json`` or ``silent``; by default chosen
            from the settings and the terminal (``pick_view``).
        mode: ``rounds`` plays challenges; ``agent`` also plays world mode.
        listener: a view fed beside the screen (a program's event listener).
        runner: a runner object to use instead of the one ``settings.runner`` names.
    """
    container = Container()
    if listener is not None:
        container.listener.override(providers.Object(listener))
    if runner is not None:
        container.runner.override(providers.Object(runner))
    container.config.from_dict(
        {
            **dataclasses.asdict(settings),
            "api": settings.api_name,
            "runner_kind": "plugin" if settings.plugin else settings.runner,
            "decision_budget": settings.decision_budget,
            "view": view if view is not None else pick_view(settings),
            "mode": mode,
            "device": None,  # model_info.device, set once the model is described
        }
    )
    return container


async def shutdown(container: Container) -> None:
    """Close the resources (HTTP pools) that were opened."""
    closing = container.shutdown_resources()
    if inspect.isawaitable(closing):
        await closing


async def resolve(provided: Any, kind: type[T]) -> T:
    """Await a provider's result if it is awaitable.

    A provider that depends on an async ``Resource`` returns an awaitable;
    one that does not (the mock runner) returns the object itself.
    """
    if inspect.isawaitable(provided):
        provided = await provided
    return cast(T, provided)
