"""Settings: every option of the client, its environment variable and default.

This module is imported by ``--help``, so it stays light: no adapters, no
network libraries. ``OPTIONS`` is the one table that the command line, the
environment variables, the config file, the README and ``make_settings`` (the
library's way in, in ``gambiarra.commands``) all follow. Precedence: flag
(or keyword) > environment > config file > default.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gambiarra.errors import ConfigError

__all__ = [
    "APIS",
    "ID_LIMIT",
    "NICKNAME_LIMIT",
    "OPTIONS",
    "OPTION_BY_KEY",
    "OPTION_BY_NAME",
    "PLUGIN_GROUP",
    "REGISTERING",
    "RUNNERS",
    "Option",
    "Settings",
    "from_env",
    "from_file",
    "os_reason",
    "parse_value",
    "read_text_file",
    "typed_value",
]

RUNNERS = ("ollama", "lmstudio", "llamacpp", "openai", "mock")
PLUGIN_GROUP = "gambiarra.runners"  # the entry-point group of installable runners
LOG_LEVELS = ("debug", "info", "warning", "error")
# The API each runner may use; the first is its default.
APIS = {
    "ollama": ("generate", "chat"),
    "lmstudio": ("completions", "chat"),
    "openai": ("chat", "completions"),
}


@dataclass(frozen=True)
class Settings:
    """Everything one run of the client needs, after flags, env, file and defaults.

    Build it with ``gambiarra.make_settings``, which checks every value as
    the command line does; the fields are the ``OPTIONS`` names.
    """

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
    history: str | None = None
    no_history: bool = False
    json: bool = False
    web: bool = False
    web_host: str = "127.0.0.1"
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

    @property
    def plugin(self) -> bool:
        """``runner`` names a plugin (``pacote.modulo:funcao`` or installed), not a built-in."""
        return self.runner not in RUNNERS

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
        """The values that must never appear in logs or messages (PIN, API key)."""
        return tuple(s for s in (self.pin, self.api_key) if s)


# Checks of single values. Each takes the raw text and returns the value, or
# raises ValueError whose message says, in Portuguese, what to write instead.
# Imports of unicodedata, ipaddress and the text helpers happen inside them:
# ``--help`` imports this module and must stay fast.

# Lengths in UTF-16 code units, the way the TypeScript arena counts.
ID_LIMIT = 64
NICKNAME_LIMIT = 40
MAX_TOKENS_LIMIT = 1_000_000
TEMPERATURE_LIMIT = 2.0
# Format characters that emoji need: joiners (👩‍💻) and, after a black flag,
# tag letters (🏴󠁧󠁢󠁳󠁣󠁴󠁿, Scotland).
_JOINERS = "\u200c\u200d"
_BLACK_FLAG = "\U0001f3f4"
_FLAG_TAGS = frozenset(chr(code) for code in range(0xE0020, 0xE0080))


def _whole(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise ValueError(f"use um número inteiro de {low} a {high}")
        return value

    return parse


def _number(low: float, high: float, *, above_low: bool = False) -> Callable[[str], float]:
    def parse(text: str) -> float:
        import math

        try:
            value = float(text)
        except ValueError:
            value = math.nan
        fits = (low < value if above_low else low <= value) and value <= high
        if not fits:  # NaN fails every comparison; inf fails ``<= high``
            start = f"maior que {low:g}" if above_low else f"de {low:g}"
            raise ValueError(f"use um número {start} até {high:g}")
        return value

    return parse


def _tps_range(text: str) -> str:
    low, _, high = text.partition("-")
    check = _number(0, 100_000, above_low=True)
    try:
        if check(low) > check(high or low):
            raise ValueError
    except ValueError:
        raise ValueError("use uma faixa como 10-60 (tokens/s, o menor primeiro)") from None
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
            raise ValueError(f"{text!r} não é uma duração como 90s, 10m ou 1h30m")
    try:
        if number:
            seconds += float(number)  # a bare number (or a last part) counts as seconds
    except ValueError:
        raise ValueError(f"{text!r} não é uma duração como 90s, 10m ou 1h30m") from None
    if not 0 < seconds <= 30 * 86_400:
        raise ValueError(f"{text!r}: a duração precisa ser maior que 0 e de até 30 dias")
    return seconds


def _dotted(path: str) -> bool:
    return all(part.isidentifier() for part in path.split("."))


def _runner(text: str) -> str:
    """A built-in runner, ``pacote.modulo:funcao``, or an installed plugin's name.

    Only the spelling is checked for ``modulo:funcao``: importing it is the
    runner's job, when the session starts (a failure there is exit 4).
    """
    text = text.strip()
    if text in RUNNERS:
        return text
    module, colon, function = text.partition(":")
    if colon:
        if _dotted(module) and _dotted(function):
            return text
        raise ValueError("escreva o plugin como pacote.modulo:funcao")
    if text and text in _installed_plugins():
        return text
    raise ValueError(
        f"use {', '.join(RUNNERS)}, um plugin instalado (veja gambiarra-client runners) "
        "ou pacote.modulo:funcao"
    )


def _installed_plugins() -> set[str]:
    from importlib import metadata  # only for a name that is no built-in

    return {point.name for point in metadata.entry_points(group=PLUGIN_GROUP)}


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on", "sim"):
        return True
    if lowered in ("0", "false", "no", "off", "não", "nao"):
        return False
    raise ValueError("use true ou false")


def _text(limit: int, *, blank: bool = False) -> Callable[[str], str]:
    """Text up to ``limit`` UTF-16 units, without the spaces around it."""

    def parse(text: str) -> str:
        from gambiarra.domain.text import utf16_len

        text = text.strip()
        if not text and not blank:
            raise ValueError("não pode ficar em branco")
        if utf16_len(text) > limit:
            raise ValueError(f"use no máximo {limit} caracteres (emoji contam 2)")
        return text

    return parse


def _color(text: str) -> str:
    digits = text[1:]
    if not (
        len(text) == 7 and text[0] == "#" and all(c in "0123456789abcdefABCDEF" for c in digits)
    ):
        raise ValueError("use uma cor como #ff5e5e (# e 6 dígitos hexadecimais)")
    return text


def _url(*schemes: str) -> Callable[[str], str]:
    """An address with one of these schemes, a host and, if given, a port 1..65535."""
    example = "ws://192.168.0.10:3000/ws" if "ws" in schemes else "http://localhost:11434"

    def parse(text: str) -> str:
        scheme, sep, rest = text.partition("://")
        if not sep or scheme.lower() not in schemes:
            raise ValueError(
                f"use um endereço {' ou '.join(s + '://' for s in schemes)}, como {example}"
            )
        if any(char.isspace() for char in text):
            raise ValueError(f"tire os espaços do endereço, como {example}")
        if "ws" in schemes and "#" in rest:
            raise ValueError(f"tire o #... do fim do endereço, como {example}")
        authority = rest
        for end in "/?#":
            authority = authority.partition(end)[0]
        _host_and_port(authority.rpartition("@")[2], example)
        return text

    return parse


def _host_and_port(hostport: str, example: str) -> None:
    brackets = "escreva o IPv6 entre colchetes, como ws://[::1]:3000/ws"
    if hostport.startswith("["):
        host, closed, after = hostport[1:].partition("]")
        if not closed or after[:1] not in ("", ":"):
            raise ValueError(brackets)
        import ipaddress

        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"[{host}] não é um endereço IPv6 válido") from None
        colon, port = after[:1], after[1:]
    else:
        host, colon, port = hostport.partition(":")
        if "[" in hostport or "]" in hostport or ":" in port:
            raise ValueError(brackets)
        if not host:
            raise ValueError(f"falta o nome ou IP da máquina, como {example}")
    if colon and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError("a porta deve ser um número de 1 a 65535")


def _web_host(text: str) -> str:
    """An address of this machine to serve the live page on: an IP, ``localhost`` or a name."""
    import ipaddress

    text = text.strip().removeprefix("[").removesuffix("]")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    labels = text.split(".")
    numeric = all(label.isdigit() for label in labels)  # 192.168.0.300 is no address
    if not numeric and len(text) <= 253 and all(map(_host_label, labels)):
        return text
    raise ValueError(
        "use um endereço desta máquina, como 127.0.0.1 (só ela) ou 0.0.0.0 (a rede local também)"
    )


def _host_label(label: str) -> bool:
    return 0 < len(label) <= 63 and label.isascii() and label.replace("-", "").isalnum()


def _unprintable(text: str, allowed: str) -> str | None:
    """The first character that would garble or hide text on screen, if any."""
    if text.isprintable():  # fast path, in C: no controls, no format characters
        return None
    import unicodedata

    in_flag = False
    for char in text:
        # Tag letters are invisible text, allowed only inside a flag emoji (🏴 + tags).
        in_flag = char == _BLACK_FLAG or (in_flag and char in _FLAG_TAGS)
        if char in allowed or char in _JOINERS or in_flag:
            continue
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            return char
    return None


REGISTERING = frozenset({"play", "agent"})  # the commands that join the arena as a participant


@dataclass(frozen=True)
class Option:
    """One command-line option, with its environment variable and config-file key."""

    name: str  # the Settings field
    help: str
    parse: Callable[[str], Any] = str
    choices: tuple[str, ...] | None = None
    required_by: frozenset[str] = frozenset()  # commands that cannot run without it
    metavar: str | None = None
    kind: type = str  # what a config-file value must be
    unset: str = ""  # what happens when the option is not given (default None)
    secret: bool = False  # never echoed back in an error message
    lines: bool = False  # may hold line breaks and tabs (a prompt, not a label)

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
_PATH = _text(4096)

OPTIONS: tuple[Option, ...] = (
    # the arena
    Option("url", "endereço WebSocket da arena", _url("ws", "wss"), metavar="URL"),
    Option("pin", "PIN da sessão, dado pela organização", _text(64),
           required_by=REGISTERING | {"swarm"}, secret=True, unset="o PIN não é conferido"),
    Option("participant_id",
           f"seu identificador único na arena (até {ID_LIMIT} caracteres)", _text(ID_LIMIT),
           required_by=REGISTERING, metavar="ID", unset="um doctor-… descartável"),
    Option("nickname", f"seu apelido no telão (até {NICKNAME_LIMIT} caracteres)",
           _text(NICKNAME_LIMIT), required_by=REGISTERING, metavar="APELIDO", unset="o ID"),
    Option("rounds", "sai com código 0 depois de N rodadas", _whole(1, 1_000_000), metavar="N",
           kind=int, unset="joga até Ctrl-C"),
    Option("max_reconnects", "desiste depois de N tentativas seguidas de (re)conexão",
           _whole(0, 1_000_000), metavar="N", kind=int, unset="nunca desiste"),
    Option("ca_file", "certificado (PEM) de uma arena wss:// com certificado próprio", _PATH,
           metavar="ARQUIVO", unset="só os certificados do sistema"),
    # the model
    Option("runner", f"servidor do modelo local ({', '.join(RUNNERS)}), um plugin instalado "
           "ou pacote.modulo:funcao", _runner, metavar="RUNNER"),
    Option("model", "nome do modelo no servidor local (com --runner mock: mock)", _text(256),
           metavar="MODELO"),
    Option("temperature", f"temperatura, de 0 a {TEMPERATURE_LIMIT:g} ({_FALLBACK})",
           _number(0, TEMPERATURE_LIMIT), metavar="T", kind=float),
    Option("max_tokens", f"limite de tokens ({_FALLBACK})", _whole(1, MAX_TOKENS_LIMIT),
           metavar="N", kind=int),
    Option("ollama_url", "endereço do Ollama", _url("http", "https"), metavar="URL"),
    Option("lmstudio_url", "endereço do LM Studio (API compatível com OpenAI)",
           _url("http", "https"), metavar="URL"),
    Option("llamacpp_url", "endereço do llama-server do llama.cpp", _url("http", "https"),
           metavar="URL"),
    Option("base_url", "endereço de um servidor compatível com OpenAI (--runner openai)",
           _url("http", "https"), metavar="URL"),
    Option("api_key", "chave do servidor OpenAI-compatível (enviada como Bearer; nunca exibida)",
           _text(4096), metavar="CHAVE", secret=True, unset="nenhuma"),
    Option("api", "API do servidor: ollama generate|chat, lmstudio completions|chat, "
           "openai chat|completions", choices=("generate", "chat", "completions"),
           unset="a primeira do runner"),
    Option("think", "liga/desliga o raciocínio de modelos que pensam (Ollama)", _boolean,
           kind=bool, unset="o do modelo"),
    Option("system", "prompt de sistema enviado ao modelo em toda rodada",
           _text(20_000, blank=True), metavar="TEXTO", lines=True, unset="nenhum"),
    Option("prompt_template", "arquivo com um modelo de prompt contendo {prompt}", _PATH,
           metavar="ARQUIVO", unset="o desafio como veio"),
    Option("runner_timeout", "segundos sem nenhum byte do modelo para a rodada falhar",
           _number(0, 3600, above_low=True), metavar="S", kind=float),
    Option("mock_tps", "tokens por segundo do runner mock (0 = instantâneo)",
           _number(0, 100_000), metavar="TPS", kind=float),
    Option("keep_alive", "quanto tempo o modelo fica carregado depois de cada rodada, como 10m "
           "ou 1h (ao sair, o servidor volta a ser como era)", _duration, metavar="DURAÇÃO",
           unset="enquanto o cliente roda"),
    Option("no_warm", "não carrega o modelo antes do primeiro desafio nem o mantém carregado "
           "(o servidor do modelo decide; o 1º token pode esperar a carga)", _boolean, kind=bool),
    Option("no_device_info", "não manda à arena a descrição da máquina e do modelo "
           "(sistema, CPU/GPU, quantização)", _boolean, kind=bool),
    # what you see and keep
    Option("save_dir", "guarda cada rodada (JSON, e o SVG quando houver) nesta pasta", _PATH,
           metavar="PASTA", unset="não guarda"),
    Option("history", "arquivo SQLite do histórico de rodadas (veja gambiarra-client history)",
           _PATH, metavar="ARQUIVO", unset="na pasta de dados do usuário"),
    Option("no_history", "não guarda as rodadas no histórico local", _boolean, kind=bool),
    Option("json", "uma linha JSON por evento, para scripts e painéis", _boolean, kind=bool),
    Option("web", "serve uma página ao vivo (desafio, resposta, desenho, números, histórico) "
           "e mostra o endereço dela", _boolean, kind=bool),
    Option("web_host", "com --web, onde a página escuta: 127.0.0.1 só deixa esta máquina "
           "abrir; 0.0.0.0 abre para a rede local", _web_host, metavar="ENDEREÇO"),
    Option("log_level", "detalhe dos diagnósticos em stderr", choices=LOG_LEVELS),
    # world mode
    Option("emoji", "o emoji do seu avatar no mundo 2-D", _text(16, blank=True),
           metavar="EMOJI"),
    Option("color", "a cor do seu avatar, como #ff5e5e", _color, metavar="COR",
           unset="a arena escolhe"),
    Option("strategy", "estratégia do agente: greedy, explorer, cautious (ou guloso, "
           "explorador, cauteloso) ou um texto seu", _text(2000), metavar="TEXTO", lines=True),
    Option("agent_template", "arquivo com o modelo de prompt do agente ({{objetivo}}, "
           "{{estrategia}}, {{radar}}, {{protocolo}})", _PATH, metavar="ARQUIVO",
           unset="o embutido"),
    Option("decision_timeout", "segundos para o modelo decidir cada pulso",
           _number(0, 600, above_low=True), metavar="S", kind=float),
    Option("decision_tokens", "limite de tokens por decisão", _whole(1, MAX_TOKENS_LIMIT),
           metavar="N", kind=int, unset="64; 512 com --think"),
    Option("pulses", "sai depois de responder N pulsos do mundo", _whole(1, 1_000_000),
           metavar="N", kind=int, unset="joga até Ctrl-C"),
    Option("world", "ensaia o modo mundo (agente) em vez das rodadas", _boolean, kind=bool),
    # swarm
    Option("count", "quantos participantes simulados", _whole(1, 10_000), metavar="N", kind=int),
    Option("id_prefix", "prefixo dos participant_id simulados", _text(ID_LIMIT - 8),
           metavar="PREFIXO"),
    Option("tps", "faixa de tokens/s dos modelos simulados, como 10-60", _tps_range,
           metavar="MIN-MAX"),
    Option("ramp", "conexões novas por segundo", _number(0, 10_000, above_low=True),
           metavar="N", kind=float),
    Option("seed", "semente das velocidades e dos textos simulados", _whole(0, 2**63 - 1),
           metavar="N", kind=int),
)  # fmt: skip
"""Every option: its flag, variable, config-file key, help text and check."""

OPTION_BY_NAME = {option.name: option for option in OPTIONS}
OPTION_BY_KEY = {option.key: option for option in OPTIONS} | {o.name: o for o in OPTIONS}
"""Options by config-file key (``max-tokens``) and by field name (``max_tokens``)."""


def parse_value(option: Option, raw: str, source: str) -> Any:
    """Convert and check one raw value, naming where it came from on error.

    Raises:
        ConfigError: one line saying which value is wrong and what to write.
    """
    if option.choices is not None and raw not in option.choices:
        raise ConfigError(
            f"{source}: {_shown(option, raw)} não é uma opção; use uma de "
            + ", ".join(option.choices)
        )
    reason = _unreadable(raw, "\n\t\r" if option.lines else "")
    if reason is None:
        try:
            return option.parse(raw)
        except ValueError as exc:
            reason = str(exc)
    raise ConfigError(f"{source}: valor inválido {_shown(option, raw)}: {reason}")


def _unreadable(raw: str, allowed: str) -> str | None:
    char = _unprintable(raw, allowed)
    if char is None:
        return None
    if "\ud800" <= char <= "\udfff":  # bytes that were not UTF-8, smuggled in by the OS
        return "tem bytes que não são UTF-8; escreva o texto em UTF-8"
    return f"tem um caractere de controle ou invisível (U+{ord(char):04X}); tire-o"


def _shown(option: Option, raw: str) -> str:
    """The value as an error message may show it: quoted, short, never a secret."""
    if option.secret:
        return "(oculto)"
    return repr(raw) if len(raw) <= 60 else repr(raw[:60]) + "…"


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


CONFIG_LIMIT = 4 * 1024 * 1024  # bytes; a real config file is a few hundred


def read_text_file(path: str, what: str, limit: int = CONFIG_LIMIT) -> str:
    """The text of a small UTF-8 file the participant wrote (a BOM is allowed).

    Raises:
        ConfigError: the file cannot be read, is too big or is not UTF-8; the
            message starts with ``what`` (the option or the file's role).
    """
    try:
        with open(path, "rb") as file:
            data = file.read(limit + 1)
    except OSError as exc:
        raise ConfigError(f"{what}: não consegui ler o arquivo ({os_reason(exc)})") from None
    if len(data) > limit:
        size = f"{limit >> 20} MiB" if limit % (1 << 20) == 0 else f"{limit >> 10} KiB"
        raise ConfigError(f"{what}: o arquivo passa de {size}; use um arquivo menor")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{what}: o arquivo não está em UTF-8 (linha {line}); salve-o como UTF-8"
        ) from None


def os_reason(exc: OSError) -> str:
    """Why a file could not be opened, in Portuguese for the usual cases."""
    import errno

    reasons = {
        errno.ENOENT: "arquivo não encontrado",
        errno.EACCES: "sem permissão de leitura",
        errno.EISDIR: "é uma pasta, não um arquivo",
    }
    return reasons.get(exc.errno or 0, exc.strerror or str(exc))


def from_file(path: str, names: tuple[str, ...]) -> dict[str, Any]:
    """Read a TOML config file whose keys are the options' names (``max-tokens = 300``).

    One file serves every command: keys of options this command does not have
    are checked, then left out.

    Raises:
        ConfigError: the file is missing, not UTF-8 or not TOML, a key is no
            option at all, or a value is wrong; the message names the file,
            and the line or the key.
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # the stdlib parser arrived in 3.11
        import tomli as tomllib

    text = read_text_file(path, path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_toml_error(path, text, exc)) from None
    values: dict[str, Any] = {}
    for key, value in data.items():
        option = OPTION_BY_KEY.get(key)
        if option is None:
            raise ConfigError(f"{path}: chave desconhecida {key[:60]!r}; confira o nome da opção")
        checked = typed_value(option, value, f"{path}: {key}")
        if option.name in names:
            values[option.name] = checked
    return values


def _toml_error(path: str, text: str, exc: ValueError) -> str:
    """The parser's error as one Portuguese line, with the line it is on."""
    lineno = getattr(exc, "lineno", None)  # tomli >= 2.1 and Python >= 3.14
    if not isinstance(lineno, int):
        words = str(exc).rpartition("(at line ")[2].partition(",")[0]
        lineno = int(words) if words.isdigit() else max(1, text.count("\n"))
    lines = text.splitlines() or [""]
    shown = lines[min(lineno, len(lines)) - 1].strip()
    return (
        f"{path}, linha {lineno}: não é TOML válido ({shown[:60]!r}); escreva chave = valor, "
        'com texto entre aspas, como nickname = "Ana"'
    )


def typed_value(option: Option, value: Any, source: str) -> Any:
    """Check a value given as a Python value (config file, program), not as text.

    Raises:
        ConfigError: it has the wrong type or fails the option's check.
    """
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
        shown = "(oculto)" if option.secret else repr(value)[:60]
        raise ConfigError(f"{source} deve ser {expected[option.kind]} (veio {shown})")
    return parse_value(option, str(value).lower() if option.kind is bool else str(value), source)
