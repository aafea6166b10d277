"""Settings: every option of the client, its environment variable and default.

This module is imported by ``--help``, so it stays light: no adapters, no
network libraries. ``OPTIONS`` is the one table that the command line, the
environment variables and the README all follow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gambiarra.errors import ConfigError

__all__ = ["OPTIONS", "RUNNERS", "Option", "Settings", "from_env"]

RUNNERS = ("ollama", "lmstudio", "mock")
LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class Settings:
    """Everything one run of the client needs, after flags, env and defaults."""

    pin: str = ""
    participant_id: str = ""
    nickname: str = ""
    url: str = "ws://localhost:3000/ws"
    runner: str = "ollama"
    model: str = "llama3.1:8b"
    temperature: float = 0.8
    max_tokens: int = 400
    ollama_url: str = "http://localhost:11434"
    lmstudio_url: str = "http://localhost:1234"
    mock_tps: float = 25.0
    rounds: int | None = None
    max_reconnects: int | None = None
    runner_timeout: float = 60.0
    ca_file: str | None = None
    log_level: str = "warning"

    def __repr__(self) -> str:
        # Settings end up in logs and tracebacks; the PIN must not.
        return f"Settings(participant_id={self.participant_id!r}, url={self.url!r}, pin='***')"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"{text} is not a positive whole number")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"{text} is negative")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:  # also rejects NaN
        raise ValueError(f"{text} is not a number > 0")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:  # also rejects NaN
        raise ValueError(f"{text} is not a number >= 0")
    return value


@dataclass(frozen=True)
class Option:
    """One command-line option, with its environment variable."""

    name: str  # the Settings field
    help: str
    parse: Callable[[str], Any] = str
    choices: tuple[str, ...] | None = None
    required: bool = False
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "GAMBIARRA_" + self.name.upper()

    @property
    def default(self) -> Any:
        return Settings.__dataclass_fields__[self.name].default


_FALLBACK = "usado quando o desafio não traz o seu próprio"

OPTIONS: tuple[Option, ...] = (
    Option("url", "endereço WebSocket da arena", metavar="URL"),
    Option("pin", "PIN da sessão, dado pela organização", required=True),
    Option("participant_id", "seu identificador único na arena", required=True, metavar="ID"),
    Option("nickname", "seu apelido no telão", required=True, metavar="APELIDO"),
    Option("runner", "servidor do modelo local", choices=RUNNERS),
    Option("model", "nome do modelo no servidor local (com --runner mock: mock)", metavar="MODELO"),
    Option("temperature", f"temperatura ({_FALLBACK})", _non_negative_float, metavar="T"),
    Option("max_tokens", f"limite de tokens ({_FALLBACK})", _positive_int, metavar="N"),
    Option("ollama_url", "endereço do Ollama", metavar="URL"),
    Option("lmstudio_url", "endereço do LM Studio (API compatível com OpenAI)", metavar="URL"),
    Option(
        "mock_tps",
        "tokens por segundo do runner mock (0 = instantâneo)",
        _non_negative_float,
        metavar="TPS",
    ),
    Option(
        "rounds",
        "sai com código 0 depois de N rodadas (padrão: joga até Ctrl-C)",
        _positive_int,
        metavar="N",
    ),
    Option(
        "max_reconnects",
        "desiste depois de N tentativas seguidas de (re)conexão (padrão: nunca desiste)",
        _non_negative_int,
        metavar="N",
    ),
    Option(
        "runner_timeout",
        "segundos sem nenhum byte do modelo para a rodada falhar",
        _positive_float,
        metavar="S",
    ),
    Option(
        "ca_file",
        "certificado (PEM) de uma arena wss:// com certificado próprio",
        metavar="ARQUIVO",
    ),
    Option("log_level", "detalhe dos diagnósticos em stderr", choices=LOG_LEVELS),
)

OPTION_BY_NAME = {option.name: option for option in OPTIONS}


def from_env(environ: Mapping[str, str], names: tuple[str, ...]) -> dict[str, Any]:
    """Read the ``GAMBIARRA_*`` variables for these options.

    Raises:
        ConfigError: a variable holds a value the option cannot take.
    """
    values: dict[str, Any] = {}
    for name in names:
        option = OPTION_BY_NAME[name]
        raw = environ.get(option.env)
        if raw is None or raw == "":
            continue
        values[name] = parse_value(option, raw, source=f"a variável {option.env}")
    return values


def parse_value(option: Option, raw: str, source: str) -> Any:
    """Convert and check one raw value, naming where it came from on error."""
    if option.choices is not None and raw not in option.choices:
        raise ConfigError(
            f"{source}: {raw!r} não é uma opção; use uma de {', '.join(option.choices)}"
        )
    try:
        return option.parse(raw)
    except ValueError:
        raise ConfigError(f"{source}: valor inválido {raw!r}") from None
