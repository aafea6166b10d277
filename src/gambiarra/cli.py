"""The command line: ``gambiarra-client [practice|agent|models|doctor|swarm|runners] [options]``.

Built on the public API: the option table (``gambiarra.OPTIONS``) makes the
parser, and ``gambiarra.make_settings`` checks the values (the same checks a
program gets). Kept light on purpose: ``--help`` imports only argparse and the
option table; the container, the adapters and the network libraries load
after parsing. Every input is checked before anything starts: expected
failures end with one Portuguese line on stderr and an exit code from
``ExitCode``; never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from gambiarra import (
    COMMANDS,
    ConfigError,
    ExitCode,
    GambiarraError,
    Option,
    Settings,
    make_settings,
)
from gambiarra.commands import COMMAND_DEFAULTS, PRACTICE_PROMPT, command_options
from gambiarra.config import OPTION_BY_NAME
from gambiarra.errors import unwrap

HISTORY_ACTIONS = ("show", "search", "export")  # gambiarra.history_command runs them

__all__ = ["COMMANDS", "Command", "main", "parse", "run", "version"]

PROG = "gambiarra-client"
DEFAULT_PROMPT = PRACTICE_PROMPT

_SUMMARIES = {
    "play": "Coloca o seu modelo local numa rodada da arena do Gambiarra LLM Club.",
    "agent": "Modo mundo: o seu modelo guia um avatar no mundo 2-D da arena (e joga as rodadas).",
    "practice": "Ensaio completo sem arena: uma arena local, o seu modelo, N rodadas.",
    "models": "Lista os modelos instalados no servidor do modelo escolhido.",
    "doctor": "Checklist para a noite do evento: modelo, arena e PIN, cada item com ✓ ou ✗.",
    "swarm": "Ensaio da organização: N participantes simulados, com uma tabela por rodada.",
    "runners": "Lista os runners: os embutidos e os plugins instalados (grupo gambiarra.runners).",
    "history": (
        "O histórico local das rodadas jogadas: history (as últimas), history show N (uma "
        "resposta inteira, com o desenho), history search TEXTO, history export --json|--csv."
    ),
}

_DESCRIPTION = f"""\
Subcomandos (a ajuda de cada um: {PROG} SUBCOMANDO --help):
  practice   ensaio sem arena: sobe uma arena local e joga uma rodada
             ({PROG} practice --runner mock; com --world, o mundo 2-D)
  agent      modo mundo: o modelo guia um avatar no mundo 2-D da arena
  models     lista os modelos instalados no servidor do modelo
  doctor     confere modelo, arena e PIN antes do evento
  swarm      N participantes simulados, para a organização ensaiar a arena
  runners    lista os runners embutidos e os plugins instalados
  history    as rodadas jogadas, guardadas no histórico local
Sem subcomando, joga as rodadas com as opções abaixo.

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

# argparse's own messages, in the words argparse passes to gettext (3.10 to 3.13).
_ARGPARSE_PT = {
    "usage: ": "uso: ",
    "options": "opções",
    "positional arguments": "argumentos posicionais",
    "show this help message and exit": "mostra esta ajuda e sai",
    "show program's version number and exit": "mostra a versão e sai",
    "%(prog)s: error: %(message)s\n": "%(prog)s: erro: %(message)s\n",
    "argument %(argument_name)s: %(message)s": "%(argument_name)s: %(message)s",
    "unrecognized arguments: %s": "argumentos não reconhecidos: %s",
    "invalid choice: %(value)r (choose from %(choices)s)": (
        "escolha inválida: %(value)r (use uma de %(choices)s)"
    ),
    "expected one argument": "falta o valor desta opção",
    "expected at most one argument": "esta opção leva no máximo um valor",
    "expected at least one argument": "esta opção leva pelo menos um valor",
    "ignored explicit argument %r": "esta opção não leva valor (veio %r)",
    "the following arguments are required: %s": "faltam os argumentos obrigatórios: %s",
    "ambiguous option: %(option)s could match %(matches)s": (
        "opção ambígua: %(option)s pode ser %(matches)s"
    ),
    "not allowed with argument %s": "não pode ser usada junto com %s",
    "one of the arguments %s is required": "informe um destes argumentos: %s",
    "invalid %(type)s value: %(value)r": "valor inválido (%(type)s): %(value)r",
}


def _gettext(message: str) -> str:
    return _ARGPARSE_PT.get(message, message)


def _ngettext(singular: str, plural: str, count: int) -> str:
    if singular == "expected %s argument":
        return "esta opção leva %s valor(es)"
    return singular if count == 1 else plural


@contextmanager
def _portuguese() -> Iterator[None]:
    """Make argparse speak Portuguese while it parses or prints help.

    argparse looks its messages up through the module's ``_`` and
    ``ngettext`` (gettext) at the moment it needs them; swapping those two
    names is its translation hook without installing a catalogue. Restored
    afterwards, so no one else's parser is touched.
    """
    saved = (argparse._, argparse.ngettext)  # type: ignore[attr-defined]
    argparse._, argparse.ngettext = _gettext, _ngettext  # type: ignore[attr-defined]
    try:
        yield
    finally:
        argparse._, argparse.ngettext = saved  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Command:
    """What to run, with its settings."""

    name: str
    settings: Settings
    prompt: str = DEFAULT_PROMPT
    words: tuple[str, ...] = ()  # history: the action and its argument
    csv: bool = False  # history export --csv


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2, like every usage error
        if message.startswith("argument "):  # Python 3.10 formats this part without gettext
            message = message[len("argument ") :]
        raise ConfigError(message)


class _Version(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="mostra a versão e sai")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        print(f"{PROG} {version()}")
        parser.exit()


def version() -> str:
    """The installed package's version, or the source tree's when not installed."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed(PROG)
    except PackageNotFoundError:
        from gambiarra import __version__

        return __version__


def _add(parser: argparse.ArgumentParser, option: Option, default: Any, command: str) -> None:
    hidden = option.name not in COMMANDS[command]
    text = argparse.SUPPRESS if hidden else _help_text(option, default, command)
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


def _help_text(option: Option, default: Any, command: str) -> str:
    """The option's help, with its variable and what it is when not given."""
    if command in option.required_by:
        shown = "; obrigatório"
    elif option.kind is bool or default is None or default == "":
        # A flag is off unless given; an unset option says what happens instead.
        shown = f"; padrão: {option.unset}" if option.unset else ""
    else:
        shown = f"; padrão: {default:g}" if isinstance(default, float) else f"; padrão: {default}"
    return f"{option.help} [{option.env}{shown}]".replace("%", "%%")


def _parser(name: str, defaults: Settings, accepted: tuple[str, ...]) -> _Parser:
    prog = PROG if name == "play" else f"{PROG} {name}"
    parser = _Parser(
        prog=prog,
        usage=f"{PROG} [SUBCOMANDO] [opções]" if name == "play" else f"{prog} [opções]",
        description=_SUMMARIES[name] + ("\n\n" + _DESCRIPTION if name == "play" else ""),
        epilog=_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
    )
    parser.add_argument("-h", "--help", action="help", help="mostra esta ajuda e sai")
    parser.add_argument("-V", "--version", action=_Version)
    for option_name in accepted:
        _add(parser, OPTION_BY_NAME[option_name], getattr(defaults, option_name), name)
    parser.add_argument(
        "--config", metavar="ARQUIVO", help="arquivo TOML com as opções [GAMBIARRA_CONFIG]"
    )
    if name == "practice":
        parser.add_argument(
            "--prompt", default=DEFAULT_PROMPT, help=f"o desafio [padrão: {DEFAULT_PROMPT!r}]"
        )
    if name == "history":
        parser.add_argument(
            "words", nargs="*", metavar="show N | search TEXTO | export",
            help="sem nada: as últimas rodadas",
        )  # fmt: skip
        parser.add_argument("--csv", action="store_true", help="history export em CSV")
    return parser


def _command_name(argv: Sequence[str]) -> str:
    return argv[0] if argv[:1] and argv[0] in COMMANDS else "play"


def parse(argv: Sequence[str], environ: Mapping[str, str]) -> Command:
    """Turn arguments, environment and config file into a command, every value checked.

    Precedence: flag > environment variable > config file > default.

    Raises:
        ConfigError: unknown option, bad value, missing required option, bad
            config file or template; one Portuguese line saying what to fix.
        SystemExit: ``--help`` or ``--version`` was printed.
    """
    name = _command_name(argv)
    args = list(argv[1:] if argv[:1] and argv[0] == name else argv)
    accepted = command_options(name)
    with _portuguese():
        namespace = _parser(name, COMMAND_DEFAULTS.get(name, Settings()), accepted).parse_args(args)
    flags = {option: getattr(namespace, option) for option in accepted}
    settings = make_settings(
        name,
        config_file=namespace.config or environ.get("GAMBIARRA_CONFIG"),
        environ=environ,
        **flags,
    )
    prompt = getattr(namespace, "prompt", DEFAULT_PROMPT)
    if not prompt.strip():
        raise ConfigError("--prompt: não pode ficar em branco; escreva o desafio")
    words = tuple(getattr(namespace, "words", ()))
    if words and words[0] not in HISTORY_ACTIONS:
        raise ConfigError(f"history: ação desconhecida {words[0]!r} (show, search ou export)")
    return Command(name, settings, prompt, words, getattr(namespace, "csv", False))


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
    no_pin = ("practice", "models", "runners", "history")
    if os.name != "posix" or (args[:1] and args[0] in no_pin):
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
        name = _command_name(argv)
        _say(f"{exc} (veja {PROG}{'' if name == 'play' else ' ' + name} --help)")
        return ExitCode.USAGE
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    from gambiarra.app import execute  # heavy imports only after parsing

    try:
        return execute(
            command.name, command.settings, command.prompt, words=command.words, csv=command.csv
        )
    except KeyboardInterrupt:  # where signals cannot be received (Windows)
        _say("interrompido.")
        return ExitCode.INTERRUPTED
    except BaseException as exc:  # mapped to one line and an exit code
        error = unwrap(exc)
        if isinstance(error, GambiarraError):
            _say(str(error))
            return error.exit_code
        if isinstance(error, BrokenPipeError):  # `history | head`: the reader had enough
            _quiet_stdout()
            return ExitCode.OK
        if isinstance(error, KeyboardInterrupt):
            _say("interrompido.")
            return ExitCode.INTERRUPTED
        raise


def _quiet_stdout() -> None:
    """Point a closed stdout at /dev/null, so the exit flush prints nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _say(line: str) -> None:
    print(f"{PROG}: {line}", file=sys.stderr)
