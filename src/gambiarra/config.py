"""Settings: every option of the client, its environment variable and default.

This module is imported by ``--help``, so it stays light: no adapters, no
network libraries. ``OPTIONS`` is the one table that the command line, the
environment variables, the config file and the README all follow.
Precedence: flag > environment > config file > default.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gambiarra.errors import ConfigError

__all__ = ["APIS", "OPTIONS", "RUNNERS", "Option", "Settings", "from_env", "from_file"]

RUNNERS = ("ollama", "lmstudio", "llamacpp", "openai", "mock")
LOG_LEVELS = ("debug", "info", "warning", "error")
# The API each runner may use; the first is its default.
APIS = {
    "ollama": ("generate", "chat"),
    "lmstudio": ("completions", "chat"),
    "openai": ("chat", "completions"),
}


@dataclass(frozen=True)
class Settings:
    """Everything one run of the client needs, after flags, env, file and defaults."""

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
    llamacpp_url: str = "http://localhost:8080"
    base_url: str = "http://localhost:8000"
    api_key: str | None = None
    api: str | None = None
    think: bool | None = None
    system: str | None = None
    prompt_template: str | None = None
    mock_tps: float = 25.0
    rounds: int | None = None
    max_reconnects: int | None = None
    runner_timeout: float = 60.0
    keep_alive: float | None = None  # seconds; None: while the client runs
    no_warm: bool = False
    no_device_info: bool = False
    ca_file: str | None = None
    save_dir: str | None = None
    json: bool = False
    log_level: str = "warning"
    emoji: str = "🤖"
    color: str | None = None
    strategy: str = "greedy"
    agent_template: str | None = None
    decision_timeout: float = 10.0
    decision_tokens: int | None = None
    pulses: int | None = None
    world: bool = False
    count: int = 10
    id_prefix: str = "swarm-"
    tps: str = "10-60"
    ramp: float = 50.0
    seed: int = 1

    def __repr__(self) -> str:
        # Settings end up in logs and tracebacks; the PIN and the API key must not.
        return f"Settings(participant_id={self.participant_id!r}, url={self.url!r}, pin='***')"

    @property
    def api_name(self) -> str | None:
        """The API in use: the chosen one, or the runner's default."""
        return self.api or APIS.get(self.runner, (None,))[0]

    @property
    def decision_budget(self) -> int:
        """Tokens for one world decision: small, larger when the model thinks first."""
        if self.decision_tokens is not None:
            return self.decision_tokens
        return 512 if self.think else 64

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.pin, self.api_key) if s)


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


def _tps_range(text: str) -> str:
    low, _, high = text.partition("-")
    if not 0 < float(low) <= float(high or low):
        raise ValueError(f"{text} is not a range like 10-60")
    return text


_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0}


def _duration(text: str) -> float:
    """``90``, ``90s``, ``10m``, ``1h30m`` -> seconds (> 0)."""
    compact = text.strip().lower().replace(" ", "")
    seconds, number = 0.0, ""
    for char in compact:
        if char.isdigit() or char == ".":
            number += char
        elif char in _UNIT_S and number:
            seconds += float(number) * _UNIT_S[char]
            number = ""
        else:
            raise ValueError(f"{text} is not a duration like 10m")
    if number:
        seconds += float(number)  # a bare number (or a last part) counts as seconds
    if not seconds > 0:
        raise ValueError(f"{text} is not a duration > 0")
    return seconds


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on", "sim"):
        return True
    if lowered in ("0", "false", "no", "off", "não", "nao"):
        return False
    raise ValueError(f"{text} is not true or false")


@dataclass(frozen=True)
class Option:
    """One command-line option, with its environment variable and config-file key."""

    name: str  # the Settings field
    help: str
    parse: Callable[[str], Any] = str
    choices: tuple[str, ...] | None = None
    required: bool = False
    metavar: str | None = None
    kind: type = str  # what a config-file value must be

    @property
    def flag(self) -> str:
        return "--" + self.key

    @property
    def key(self) -> str:
        return self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "GAMBIARRA_" + self.name.upper()

    @property
    def default(self) -> Any:
        return Settings.__dataclass_fields__[self.name].default


_FALLBACK = "usado quando o desafio não traz o seu próprio"

OPTIONS: tuple[Option, ...] = (
    # the arena
    Option("url", "endereço WebSocket da arena", metavar="URL"),
    Option("pin", "PIN da sessão, dado pela organização", required=True),
    Option("participant_id", "seu identificador único na arena", required=True, metavar="ID"),
    Option("nickname", "seu apelido no telão", required=True, metavar="APELIDO"),
    Option("rounds", "sai com código 0 depois de N rodadas (padrão: joga até Ctrl-C)",
           _positive_int, metavar="N", kind=int),
    Option("max_reconnects",
           "desiste depois de N tentativas seguidas de (re)conexão (padrão: nunca desiste)",
           _non_negative_int, metavar="N", kind=int),
    Option("ca_file", "certificado (PEM) de uma arena wss:// com certificado próprio",
           metavar="ARQUIVO"),
    # the model
    Option("runner", "servidor do modelo local", choices=RUNNERS),
    Option("model", "nome do modelo no servidor local (com --runner mock: mock)", metavar="MODELO"),
    Option("temperature", f"temperatura ({_FALLBACK})", _non_negative_float, metavar="T",
           kind=float),
    Option("max_tokens", f"limite de tokens ({_FALLBACK})", _positive_int, metavar="N", kind=int),
    Option("ollama_url", "endereço do Ollama", metavar="URL"),
    Option("lmstudio_url", "endereço do LM Studio (API compatível com OpenAI)", metavar="URL"),
    Option("llamacpp_url", "endereço do llama-server do llama.cpp", metavar="URL"),
    Option("base_url", "endereço de um servidor compatível com OpenAI (--runner openai)",
           metavar="URL"),
    Option("api_key", "chave do servidor OpenAI-compatível (enviada como Bearer; nunca exibida)",
           metavar="CHAVE"),
    Option("api", "API do servidor: ollama generate|chat, lmstudio completions|chat, "
           "openai chat|completions", choices=("generate", "chat", "completions")),
    Option("think", "liga/desliga o raciocínio de modelos que pensam (Ollama; padrão: o do "
           "modelo)", _boolean, kind=bool),
    Option("system", "prompt de sistema enviado ao modelo em toda rodada", metavar="TEXTO"),
    Option("prompt_template", "arquivo com um modelo de prompt contendo {prompt}",
           metavar="ARQUIVO"),
    Option("runner_timeout", "segundos sem nenhum byte do modelo para a rodada falhar",
           _positive_float, metavar="S", kind=float),
    Option("mock_tps", "tokens por segundo do runner mock (0 = instantâneo)",
           _non_negative_float, metavar="TPS", kind=float),
    Option("keep_alive", "quanto tempo o modelo fica carregado depois de cada rodada, como 10m "
           "ou 1h (padrão: enquanto o cliente roda; ao sair, o servidor volta a ser como era)",
           _duration, metavar="DURAÇÃO"),
    Option("no_warm", "não carrega o modelo antes do primeiro desafio nem o mantém carregado "
           "(o servidor do modelo decide; o 1º token pode esperar a carga)", _boolean, kind=bool),
    Option("no_device_info", "não manda à arena a descrição da máquina e do modelo "
           "(sistema, CPU/GPU, quantização)", _boolean, kind=bool),
    # what you see and keep
    Option("save_dir", "guarda cada rodada (JSON, e o SVG quando houver) nesta pasta",
           metavar="PASTA"),
    Option("json", "uma linha JSON por evento, para scripts e painéis", _boolean, kind=bool),
    Option("log_level", "detalhe dos diagnósticos em stderr", choices=LOG_LEVELS),
    # world mode
    Option("emoji", "o emoji do seu avatar no mundo 2-D", metavar="EMOJI"),
    Option("color", "a cor do seu avatar, como #ff5e5e", metavar="COR"),
    Option("strategy", "estratégia do agente: greedy, explorer, cautious (ou guloso, "
           "explorador, cauteloso) ou um texto seu", metavar="TEXTO"),
    Option("agent_template", "arquivo com o modelo de prompt do agente ({{objetivo}}, "
           "{{estrategia}}, {{radar}}, {{protocolo}})", metavar="ARQUIVO"),
    Option("decision_timeout", "segundos para o modelo decidir cada pulso", _positive_float,
           metavar="S", kind=float),
    Option("decision_tokens", "limite de tokens por decisão (padrão 64; 512 com --think)",
           _positive_int, metavar="N", kind=int),
    Option("pulses", "sai depois de responder N pulsos do mundo", _positive_int, metavar="N",
           kind=int),
    Option("world", "ensaia o modo mundo (agente) em vez das rodadas", _boolean, kind=bool),
    # swarm
    Option("count", "quantos participantes simulados", _positive_int, metavar="N", kind=int),
    Option("id_prefix", "prefixo dos participant_id simulados", metavar="PREFIXO"),
    Option("tps", "faixa de tokens/s dos modelos simulados, como 10-60", _tps_range,
           metavar="MIN-MAX"),
    Option("ramp", "conexões novas por segundo", _positive_float, metavar="N", kind=float),
    Option("seed", "semente das velocidades e dos textos simulados", int, metavar="N", kind=int),
)  # fmt: skip

OPTION_BY_NAME = {option.name: option for option in OPTIONS}
_BY_KEY = {option.key: option for option in OPTIONS} | {o.name: o for o in OPTIONS}


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


def from_file(path: str, names: tuple[str, ...]) -> dict[str, Any]:
    """Read a TOML config file whose keys are the options' names (``max-tokens = 300``).

    One file serves every command: keys of options this command does not have
    are checked, then left out.

    Raises:
        ConfigError: the file is missing or not TOML, a key is no option at
            all, or a value has the wrong type; the message names the file and
            the key.
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # the stdlib parser arrived in 3.11
        import tomli as tomllib

    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"{path}: não consegui ler o arquivo de configuração ({exc.strerror})"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: não é TOML válido ({exc})") from None
    values: dict[str, Any] = {}
    for key, value in data.items():
        option = _BY_KEY.get(key)
        if option is None:
            raise ConfigError(f"{path}: chave desconhecida {key!r}")
        checked = _typed(option, value, f"{path}: {key}")
        if option.name in names:
            values[option.name] = checked
    return values


def _typed(option: Option, value: Any, source: str) -> Any:
    expected = {
        str: "um texto",
        int: "um número inteiro",
        float: "um número",
        bool: "true ou false",
    }
    fits = (
        isinstance(value, option.kind)
        if option.kind is not float
        else isinstance(value, (int, float))
    )
    if isinstance(value, bool) and option.kind is not bool:
        fits = False
    if not fits:
        raise ConfigError(f"{source} deve ser {expected[option.kind]} (veio {value!r})")
    return parse_value(option, str(value).lower() if option.kind is bool else str(value), source)
