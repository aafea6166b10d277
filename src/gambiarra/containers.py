"""The composition root: the only module that knows the concrete adapters.

Everything is built from a ``Settings`` through one dependency-injector
``Container``; the runner is picked by name with a ``Selector``. Each HTTP
client is an async ``Resource`` so its connection pool is reused for the
whole session and closed at shutdown. Tests override providers with fakes.
"""

from __future__ import annotations

import dataclasses
import inspect
import ssl
from collections.abc import AsyncIterator
from typing import Any, TypeVar, cast

import httpx
from dependency_injector import containers, providers

from gambiarra.adapters.console import ConsoleView, SilentView
from gambiarra.adapters.mock import MockRunner
from gambiarra.adapters.ollama import OllamaRunner
from gambiarra.adapters.openai_compat import OpenAICompatRunner
from gambiarra.adapters.websocket import WebSocketTransport
from gambiarra.config import Settings
from gambiarra.domain.protocol import ModelInfo, Register
from gambiarra.domain.round import Fallbacks, RoundMachine
from gambiarra.errors import ConfigError
from gambiarra.service import ArenaClient

__all__ = ["Container", "build", "resolve", "shutdown"]

T = TypeVar("T")


async def http_client(base_url: str, read_timeout: float) -> AsyncIterator[httpx.AsyncClient]:
    """One pooled client per model server, closed when the container shuts down.

    ``read_timeout``: no byte from the model server for this long fails the
    round (not the session). ``trust_env=False``: the model server is on this
    machine or the LAN, so a corporate HTTP proxy from the environment must
    not be used for it.
    """
    timeout = httpx.Timeout(read_timeout, connect=5.0)
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout, trust_env=False) as client:
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


class Container(containers.DeclarativeContainer):
    config = providers.Configuration(strict=True)

    ollama_http = providers.Resource(
        http_client, base_url=config.ollama_url, read_timeout=config.runner_timeout
    )
    lmstudio_http = providers.Resource(
        http_client, base_url=config.lmstudio_url, read_timeout=config.runner_timeout
    )

    runner = providers.Selector(
        config.runner,
        ollama=providers.Singleton(
            OllamaRunner,
            http=ollama_http,
            model=config.model,
            idle_timeout=config.runner_timeout,
        ),
        lmstudio=providers.Singleton(
            OpenAICompatRunner,
            http=lmstudio_http,
            model=config.model,
            idle_timeout=config.runner_timeout,
        ),
        mock=providers.Singleton(MockRunner, model=config.model, tokens_per_second=config.mock_tps),
    )

    view = providers.Selector(
        config.view,
        console=providers.Singleton(ConsoleView),
        silent=providers.Singleton(SilentView),
    )

    transport = providers.Singleton(
        WebSocketTransport,
        url=config.url,
        ssl_context=providers.Callable(tls_context, config.ca_file),
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

    machine = providers.Factory(
        RoundMachine,
        participant_id=config.participant_id,
        model_info=providers.Factory(ModelInfo, name=config.model, runner=config.runner),
        fallbacks=providers.Factory(
            Fallbacks, max_tokens=config.max_tokens, temperature=config.temperature
        ),
    )

    arena_client = providers.Factory(
        ArenaClient,
        transport=transport,
        runner=runner,
        machine=machine,
        view=view,
        max_rounds=config.rounds,
    )


def build(settings: Settings, *, view: str = "console") -> Container:
    """A container configured from settings.

    Args:
        settings: the options of this run.
        view: ``console`` streams the answer to the terminal; ``silent`` shows
            nothing (the practice arena prints its own "big screen" instead).
    """
    container = Container()
    container.config.from_dict({**dataclasses.asdict(settings), "view": view})
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
