"""The command line: ``gambiarra-client [practice] [options]``.

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
from typing import Any

from gambiarra.config import OPTION_BY_NAME, OPTIONS, Option, Settings, from_env, parse_value
from gambiarra.errors import ConfigError, ExitCode, GambiarraError, unwrap

__all__ = ["Command", "main", "parse"]

PROG = "gambiarra-client"
DEFAULT_PROMPT = "Escreva um haicai sobre gambiarras."

_PLAY_OPTIONS = tuple(option.name for option in OPTIONS)
_PRACTICE_OPTIONS = (
    "runner", "model", "temperature", "max_tokens", "ollama_url", "lmstudio_url",
    "mock_tps", "rounds", "nickname", "runner_timeout", "log_level",
)  # fmt: skip

_DESCRIPTION = """\
Coloca o seu modelo local numa rodada da arena do Gambiarra LLM Club.

Subcomandos:
  practice   ensaio sem arena: sobe uma arena local e joga uma rodada
             (gambiarra-client practice --runner mock)

max-tokens e temperature valem só quando o desafio não traz os seus: os
valores do desafio (inclusive temperature 0 e seed) são os que o modelo recebe.
Toda opção também pode vir de uma variável de ambiente (indicada em cada uma);
a opção na linha de comando tem prioridade.
"""

_EXIT_CODES = """\
códigos de saída: 0 fim normal · 2 uso incorreto · 3 recusado pela arena (PIN) ·
4 servidor do modelo ou modelo indisponível · 5 arena inacessível ·
130 interrompido (Ctrl-C) · 143 encerrado (SIGTERM)
"""


@dataclass(frozen=True)
class Command:
    """What to run: ``play`` (the original client) or ``practice``."""

    name: str
    settings: Settings
    prompt: str = DEFAULT_PROMPT


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2, like every usage error
        raise ConfigError(message)


def _add(parser: argparse.ArgumentParser, option: Option, default: Any) -> None:
    shown = "obrigatório" if option.required and default is None else f"padrão: {default}"
    parser.add_argument(
        option.flag,
        dest=option.name,
        default=None,
        choices=option.choices,
        metavar=option.metavar,
        help=f"{option.help} [{option.env}; {shown}]",
    )


def _parser(name: str, names: Sequence[str], defaults: Settings) -> _Parser:
    prog = PROG if name == "play" else f"{PROG} {name}"
    parser = _Parser(
        prog=prog,
        description=_DESCRIPTION if name == "play" else "Ensaio completo sem arena e sem evento.",
        epilog=_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for option_name in names:
        option = OPTION_BY_NAME[option_name]
        default = getattr(defaults, option_name)
        _add(parser, option, None if option.required and name == "play" else default)
    if name == "practice":
        parser.add_argument(
            "--prompt", default=DEFAULT_PROMPT, help=f"o desafio (padrão: {DEFAULT_PROMPT!r})"
        )
    return parser


_PRACTICE_DEFAULTS = Settings(
    pin="pratica", participant_id="pratica", nickname="Você", rounds=1, mock_tps=25.0
)


def parse(argv: Sequence[str], environ: Mapping[str, str]) -> Command:
    """Turn arguments and environment into a command.

    Precedence: flag > environment variable > default.

    Raises:
        ConfigError: unknown option, bad value or missing required option.
    """
    name, args = ("practice", argv[1:]) if argv[:1] == ["practice"] else ("play", argv)
    names = _PRACTICE_OPTIONS if name == "practice" else _PLAY_OPTIONS
    defaults = _PRACTICE_DEFAULTS if name == "practice" else Settings()
    namespace = _parser(name, names, defaults).parse_args(args)
    values = from_env(environ, names)
    for option_name in names:
        raw = getattr(namespace, option_name)
        if raw is not None:
            values[option_name] = parse_value(
                OPTION_BY_NAME[option_name], raw, source=OPTION_BY_NAME[option_name].flag
            )
    if name == "play":
        missing = [
            f"{o.flag} (ou {o.env})" for o in OPTIONS if o.required and not values.get(o.name)
        ]
        if missing:
            raise ConfigError("falta informar " + ", ".join(missing))
    if values.get("runner", defaults.runner) == "mock" and "model" not in values:
        values["model"] = "mock"  # don't show a real model's name for fake text
    settings = replace(defaults, **values)
    return Command(name, settings, getattr(namespace, "prompt", DEFAULT_PROMPT))


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
    if os.name != "posix" or args[:1] == ["practice"]:
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
        execute(command.name, command.settings, command.prompt)
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
    return ExitCode.OK


def _say(line: str) -> None:
    print(f"{PROG}: {line}", file=sys.stderr)
