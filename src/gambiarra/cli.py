"""The command line: ``gambiarra-client [practice|agent|models|doctor|swarm] [options]``.

Kept light on purpose: ``--help`` imports only argparse and the option table;
the container, the adapters and the network libraries load after parsing.
Every input is checked here, before anything starts: expected failures end
with one Portuguese line on stderr and an exit code from ``ExitCode``; never
a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
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
    os_reason,
    parse_value,
    read_text_file,
)
from gambiarra.domain.prompting import PLACEHOLDER
from gambiarra.errors import ConfigError, ExitCode, GambiarraError, unwrap

__all__ = ["COMMANDS", "Command", "main", "parse", "run", "version"]

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
# The options each command uses, as its --help shows them.
COMMANDS: dict[str, tuple[str, ...]] = {
    "play": (*_ARENA, *_MODEL_SERVER, *_MODEL_KEEPING, *_GENERATION, *_OUTPUT),
    "agent": (*_ARENA, *_MODEL_SERVER, *_MODEL_KEEPING, *_GENERATION, *_AGENT, *_OUTPUT),
    "practice": (*_MODEL_SERVER, *_MODEL_KEEPING, *_GENERATION, *_AGENT, "world", "rounds",
                 "nickname", "save_dir", "log_level"),
    "models": ("runner", "ollama_url", "lmstudio_url", "llamacpp_url", "base_url", "api_key",
               "runner_timeout", "json", "log_level"),
    "doctor": ("url", "pin", "participant_id", "nickname", "ca_file", *_MODEL_SERVER,
               *_MODEL_KEEPING, "think", "log_level"),
    "swarm": ("url", "pin", "rounds", "max_reconnects", "ca_file", "count", "id_prefix", "tps",
              "ramp", "seed", *[o for o in _MODEL_SERVER if o != "mock_tps"], "temperature",
              "max_tokens", "json", "log_level"),
}  # fmt: skip
# Options a command takes without using them, so that the line that plays can
# be rerun as `doctor` or `models`; checked like any other, hidden from --help.
_TOLERATED: dict[str, tuple[str, ...]] = {
    "models": ("model", "api", "mock_tps"),
    "doctor": ("rounds", "max_reconnects", "temperature", "max_tokens", "system",
               "prompt_template"),
    "swarm": ("mock_tps",),
}  # fmt: skip
_SUMMARIES = {
    "play": "Coloca o seu modelo local numa rodada da arena do Gambiarra LLM Club.",
    "agent": "Modo mundo: o seu modelo guia um avatar no mundo 2-D da arena (e joga as rodadas).",
    "practice": "Ensaio completo sem arena: uma arena local, o seu modelo, N rodadas.",
    "models": "Lista os modelos instalados no servidor do modelo escolhido.",
    "doctor": "Checklist para a noite do evento: modelo, arena e PIN, cada item com ✓ ou ✗.",
    "swarm": "Ensaio da organização: N participantes simulados, com uma tabela por rodada.",
}

_DESCRIPTION = f"""\
Subcomandos (a ajuda de cada um: {PROG} SUBCOMANDO --help):
  practice   ensaio sem arena: sobe uma arena local e joga uma rodada
             ({PROG} practice --runner mock; com --world, o mundo 2-D)
  agent      modo mundo: o modelo guia um avatar no mundo 2-D da arena
  models     lista os modelos instalados no servidor do modelo
  doctor     confere modelo, arena e PIN antes do evento
  swarm      N participantes simulados, para a organização ensaiar a arena
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


def _parser(name: str, defaults: Settings) -> _Parser:
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
    for option_name in (*COMMANDS[name], *_TOLERATED.get(name, ())):
        _add(parser, OPTION_BY_NAME[option_name], getattr(defaults, option_name), name)
    parser.add_argument(
        "--config", metavar="ARQUIVO", help="arquivo TOML com as opções [GAMBIARRA_CONFIG]"
    )
    if name == "practice":
        parser.add_argument(
            "--prompt", default=DEFAULT_PROMPT, help=f"o desafio [padrão: {DEFAULT_PROMPT!r}]"
        )
    return parser


_DEFAULTS = {
    "practice": Settings(pin="pratica", participant_id="pratica", nickname="Você", rounds=1),
    "swarm": Settings(runner="mock", model="mock"),
}


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
    names = (*COMMANDS[name], *_TOLERATED.get(name, ()))
    defaults = _DEFAULTS.get(name, Settings())
    with _portuguese():
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
    prompt = getattr(namespace, "prompt", DEFAULT_PROMPT)
    if not prompt.strip():
        raise ConfigError("--prompt: não pode ficar em branco; escreva o desafio")
    return Command(name, settings, prompt)


def _complete(name: str, settings: Settings, given: Mapping[str, Any]) -> Settings:
    """Rules that a single option cannot check: required options, pairs, files."""
    missing = [
        f"{o.flag} (ou {o.env})" for o in OPTIONS if name in o.required_by and not given.get(o.name)
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
    _check_files(settings)
    if name == "practice" and settings.world and settings.pulses is None:
        settings = replace(settings, pulses=20)
    return settings


TEMPLATE_FILE_LIMIT = 256 * 1024  # bytes; a prompt template is a page or two


def _check_files(settings: Settings) -> None:
    """Files are read (and thrown away) now, so a bad one stops the start, not a round."""
    if settings.prompt_template is not None:
        flag = "--prompt-template " + settings.prompt_template
        if PLACEHOLDER not in read_text_file(settings.prompt_template, flag, TEMPLATE_FILE_LIMIT):
            raise ConfigError(f"{flag}: o modelo precisa conter {PLACEHOLDER}")
    if settings.agent_template is not None:
        flag = "--agent-template " + settings.agent_template
        read_text_file(settings.agent_template, flag, TEMPLATE_FILE_LIMIT)
    if settings.ca_file is not None:
        try:
            Path(settings.ca_file).open("rb").close()
        except OSError as exc:
            raise ConfigError(
                f"--ca-file {settings.ca_file}: não consegui ler o arquivo ({os_reason(exc)})"
            ) from None
    save_dir = settings.save_dir
    if save_dir is not None and Path(save_dir).exists() and not Path(save_dir).is_dir():
        raise ConfigError(f"--save-dir {save_dir}: já existe e não é uma pasta; escolha outra")


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
        name = _command_name(argv)
        _say(f"{exc} (veja {PROG}{'' if name == 'play' else ' ' + name} --help)")
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
