"""The command line: ``gambiarra-client [practice|models|doctor] [options]``.

Kept light on purpose: ``--help`` imports only argparse and the option table;
the container, the adapters and the network libraries load after parsing.
Expected failures end with one line on stderr and an exit code from
``ExitCode``; never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gambiarra.config import (
    APIS,
    OPTION_BY_NAME,
    OPTIONS,
    Option,
    Settings,
    from_env,
    from_file,
    parse_value,
)
from gambiarra.domain.prompting import PLACEHOLDER
from gambiarra.errors import ConfigError, ExitCode, GambiarraError, unwrap

__all__ = ["Command", "main", "parse"]

PROG = "gambiarra-client"
DEFAULT_PROMPT = "Escreva um haicai sobre gambiarras."

_ARENA = ("url", "pin", "participant_id", "nickname", "rounds", "max_reconnects", "ca_file")
_MODEL_SERVER = ("runner", "model", "ollama_url", "lmstudio_url", "llamacpp_url", "base_url",
                 "api_key", "api", "runner_timeout", "mock_tps")  # fmt: skip
_GENERATION = ("temperature", "max_tokens", "think", "system", "prompt_template")
_MODEL_KEEPING = ("keep_alive", "no_warm", "no_device_info")
_AGENT = ("emoji", "color", "strategy", "agent_template", "decision_timeout", "decision_tokens",
          "pulses")  # fmt: skip
_OUTPUT = ("save_dir", "json", "log_level")
COMMANDS: dict[str, tuple[str, ...]] = {
    "play": (*_ARENA, *_MODEL_SERVER, *_MODEL_KEEPING, *_GENERATION, *_OUTPUT),
    "agent": (*_ARENA, *_MODEL_SERVER, *_MODEL_KEEPING, *_GENERATION, *_AGENT, *_OUTPUT),
    "practice": (*_MODEL_SERVER, *_MODEL_KEEPING, *_GENERATION, *_AGENT, "world", "rounds",
                 "nickname", "save_dir", "log_level"),
    "models": (*_MODEL_SERVER, "json", "log_level"),
    "doctor": (*_ARENA, *_MODEL_SERVER, *_MODEL_KEEPING, *_GENERATION, "log_level"),
    "swarm": ("url", "pin", "rounds", "max_reconnects", "ca_file", "count", "id_prefix", "tps",
              "ramp", "seed", *_MODEL_SERVER, "temperature", "max_tokens", "json", "log_level"),
}  # fmt: skip
_SUMMARIES = {
    "play": "Coloca o seu modelo local numa rodada da arena do Gambiarra LLM Club.",
    "agent": "Modo mundo: o seu modelo guia um avatar no mundo 2-D da arena (e joga as rodadas).",
    "practice": "Ensaio completo sem arena: uma arena local, o seu modelo, N rodadas.",
    "models": "Lista os modelos instalados no servidor do modelo escolhido.",
    "doctor": "Checklist para a noite do evento: modelo, arena e PIN, cada item com ✓ ou ✗.",
    "swarm": "Ensaio da organização: N participantes simulados, com uma tabela por rodada.",
}

_DESCRIPTION = """\
Subcomandos:
  practice   ensaio sem arena: sobe uma arena local e joga uma rodada
             (gambiarra-client practice --runner mock; com --world, o mundo 2-D)
  agent      modo mundo: o modelo guia um avatar no mundo 2-D da arena
  models     lista os modelos instalados no servidor do modelo
  doctor     confere modelo, arena e PIN antes do evento
  swarm      N participantes simulados, para a organização ensaiar a arena

max-tokens e temperature valem só quando o desafio não traz os seus: os
valores do desafio (inclusive temperature 0 e seed) são os que o modelo recebe.
Toda opção também pode vir de uma variável de ambiente (indicada em cada uma)
ou de um arquivo --config em TOML (chaves com o nome da opção, ex.:
max-tokens = 300); prioridade: opção > variável > arquivo > padrão.
"""

_EXIT_CODES = """\
códigos de saída: 0 fim normal · 2 uso incorreto · 3 recusado pela arena (PIN) ·
4 servidor do modelo ou modelo indisponível · 5 arena inacessível ·
130 interrompido (Ctrl-C) · 143 encerrado (SIGTERM)
"""


@dataclass(frozen=True)
class Command:
    """What to run, with its settings."""

    name: str
    settings: Settings
    prompt: str = DEFAULT_PROMPT


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2, like every usage error
        raise ConfigError(message)


def _add(parser: argparse.ArgumentParser, option: Option, default: Any, required: bool) -> None:
    shown = "obrigatório" if required else f"padrão: {default}"
    text = f"{option.help} [{option.env}; {shown}]"
    if option.kind is bool:
        action = argparse.BooleanOptionalAction if option.name == "think" else "store_true"
        parser.add_argument(option.flag, dest=option.name, default=None, action=action, help=text)
        return
    parser.add_argument(
        option.flag,
        dest=option.name,
        default=None,
        choices=option.choices,
        metavar=option.metavar,
        help=text,
    )


def _parser(name: str, defaults: Settings) -> _Parser:
    parser = _Parser(
        prog=PROG if name == "play" else f"{PROG} {name}",
        description=_SUMMARIES[name] + ("\n\n" + _DESCRIPTION if name == "play" else ""),
        epilog=_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for option_name in COMMANDS[name]:
        option = OPTION_BY_NAME[option_name]
        required = option.required and name in ("play", "agent", "swarm")
        _add(parser, option, getattr(defaults, option_name), required)
    parser.add_argument(
        "--config", metavar="ARQUIVO", help="arquivo TOML com as opções [GAMBIARRA_CONFIG]"
    )
    if name == "practice":
        parser.add_argument(
            "--prompt", default=DEFAULT_PROMPT, help=f"o desafio (padrão: {DEFAULT_PROMPT!r})"
        )
    return parser


_DEFAULTS = {
    "practice": Settings(pin="pratica", participant_id="pratica", nickname="Você", rounds=1),
    "swarm": Settings(runner="mock", model="mock"),
}


def parse(argv: Sequence[str], environ: Mapping[str, str]) -> Command:
    """Turn arguments, environment and config file into a command.

    Precedence: flag > environment variable > config file > default.

    Raises:
        ConfigError: unknown option, bad value, missing required option, bad
            config file or prompt template.
    """
    name = argv[0] if argv[:1] and argv[0] in COMMANDS and argv[0] != "play" else "play"
    args = argv[1:] if name != "play" else argv
    names = COMMANDS[name]
    defaults = _DEFAULTS.get(name, Settings())
    namespace = _parser(name, defaults).parse_args(args)
    config_file = namespace.config or environ.get("GAMBIARRA_CONFIG")
    values = from_file(config_file, names) if config_file else {}
    values.update(from_env(environ, names))
    for option_name in names:
        raw = getattr(namespace, option_name)
        if raw is None:
            continue
        option = OPTION_BY_NAME[option_name]
        values[option_name] = raw if option.kind is bool else parse_value(option, raw, option.flag)
    settings = _complete(name, replace(defaults, **values), values)
    return Command(name, settings, getattr(namespace, "prompt", DEFAULT_PROMPT))


def _complete(name: str, settings: Settings, given: Mapping[str, Any]) -> Settings:
    """Cross-option rules that a single option cannot check."""
    if name == "play":
        missing = [
            f"{o.flag} (ou {o.env})" for o in OPTIONS if o.required and not given.get(o.name)
        ]
        if missing:
            raise ConfigError("falta informar " + ", ".join(missing))
    if settings.runner == "mock" and "model" not in given:
        settings = replace(settings, model="mock")  # don't show a real model's name for fake text
    if settings.api is not None and settings.api not in APIS.get(settings.runner, ()):
        allowed = " ou ".join(APIS.get(settings.runner, ())) or "nenhuma escolha"
        raise ConfigError(
            f"--api {settings.api} não vale para --runner {settings.runner} ({allowed})"
        )
    if settings.prompt_template is not None:
        _check_template(settings.prompt_template)
    if settings.agent_template is not None and not Path(settings.agent_template).is_file():
        raise ConfigError(f"--agent-template {settings.agent_template}: arquivo não encontrado")
    if name == "practice" and settings.world and settings.pulses is None:
        settings = replace(settings, pulses=20)
    return settings


def _check_template(path: str) -> None:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--prompt-template {path}: não consegui ler ({exc.strerror})") from None
    if PLACEHOLDER not in text:
        raise ConfigError(f"--prompt-template {path}: o modelo precisa conter {PLACEHOLDER}")


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``gambiarra-client`` console script."""
    if argv is None:
        _hide_pin(sys.argv[1:])
    sys.exit(run(list(sys.argv[1:] if argv is None else argv), os.environ))


def _hide_pin(args: list[str]) -> None:
    """Move ``--pin`` into the environment and re-exec without it.

    Any user of the machine can read a process's command line (``ps``,
    /proc/PID/cmdline); the environment is private to its owner. The
    re-executed process keeps the same PID, so callers see no difference.
    """
    if os.name != "posix" or (args[:1] and args[0] in ("practice", "models")):
        return
    rest: list[str] = []
    pin: str | None = None
    items = iter(args)
    for arg in items:
        if arg == "--pin":
            pin = next(items, None)
            if pin is None:
                return  # let argparse report the missing value
        elif arg.startswith("--pin="):
            pin = arg[len("--pin=") :]
        else:
            rest.append(arg)
    if pin is None:
        return
    env = {**os.environ, "GAMBIARRA_PIN": pin}
    os.execve(sys.executable, [sys.executable, "-m", "gambiarra", *rest], env)


def run(argv: list[str], environ: Mapping[str, str]) -> int:
    """Run a command line; return the exit code."""
    try:
        command = parse(argv, environ)
    except ConfigError as exc:
        _say(f"{exc} (veja {PROG} --help)")
        return ExitCode.USAGE
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    from gambiarra.app import execute  # heavy imports only after parsing

    try:
        return execute(command.name, command.settings, command.prompt)
    except KeyboardInterrupt:  # where signals cannot be received (Windows)
        _say("interrompido.")
        return ExitCode.INTERRUPTED
    except BaseException as exc:  # mapped to one line and an exit code
        error = unwrap(exc)
        if isinstance(error, GambiarraError):
            _say(str(error))
            return error.exit_code
        if isinstance(error, KeyboardInterrupt):
            _say("interrompido.")
            return ExitCode.INTERRUPTED
        raise


def _say(line: str) -> None:
    print(f"{PROG}: {line}", file=sys.stderr)
