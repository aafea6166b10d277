"""Commands and their settings: which options each command takes, and ``make_settings``.

The command line and programs build their ``Settings`` here, with the same
checks: single values by the option table (``gambiarra.config``), then the
rules between options (required ones, pairs, files). Light like the table:
``--help`` imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from gambiarra.config import (
    APIS,
    OPTION_BY_KEY,
    OPTIONS,
    Settings,
    from_env,
    from_file,
    os_reason,
    parse_value,
    read_text_file,
    typed_value,
)
from gambiarra.errors import ConfigError

__all__ = [
    "COMMANDS",
    "COMMAND_DEFAULTS",
    "PRACTICE_PROMPT",
    "TOLERATED",
    "command_options",
    "complete",
    "make_settings",
]

PRACTICE_PROMPT = "Escreva um haicai sobre gambiarras."  # the rehearsal's challenge

_ARENA = ("url", "pin", "participant_id", "nickname", "rounds", "max_reconnects", "ca_file")
_MODEL_SERVER = ("runner", "model", "ollama_url", "lmstudio_url", "llamacpp_url", "base_url",
                 "api_key", "api", "runner_timeout", "mock_tps")  # fmt: skip
_GENERATION = ("temperature", "max_tokens", "think", "system", "prompt_template")
_MODEL_KEEPING = ("keep_alive", "no_warm", "no_device_info")
_AGENT = ("emoji", "color", "strategy", "agent_template", "decision_timeout", "decision_tokens",
          "pulses")  # fmt: skip
_OUTPUT = ("save_dir", "history", "no_history", "json", "web", "web_host", "log_level")
COMMANDS: dict[str, tuple[str, ...]] = {
    "play": (*_ARENA, *_MODEL_SERVER, *_MODEL_KEEPING, *_GENERATION, *_OUTPUT),
    "agent": (*_ARENA, *_MODEL_SERVER, *_MODEL_KEEPING, *_GENERATION, *_AGENT, *_OUTPUT),
    "practice": (*_MODEL_SERVER, *_MODEL_KEEPING, *_GENERATION, *_AGENT, "world", "rounds",
                 "nickname", "save_dir", "history", "no_history", "web", "web_host", "log_level"),
    "models": ("runner", "ollama_url", "lmstudio_url", "llamacpp_url", "base_url", "api_key",
               "runner_timeout", "json", "log_level"),
    "doctor": ("url", "pin", "participant_id", "nickname", "ca_file", *_MODEL_SERVER,
               *_MODEL_KEEPING, "think", "log_level"),
    "swarm": ("url", "pin", "rounds", "max_reconnects", "ca_file", "count", "id_prefix", "tps",
              "ramp", "seed", *[o for o in _MODEL_SERVER if o != "mock_tps"], "temperature",
              "max_tokens", "json", "log_level"),
    "runners": ("json", "log_level"),
    "history": ("history", "json", "log_level"),
}  # fmt: skip
"""The options each command takes, by ``Settings`` field name, in ``--help`` order."""

# Options a command takes without using them, so that the line that plays can
# be rerun as `doctor` or `models`; checked like any other, hidden from --help.
TOLERATED: dict[str, tuple[str, ...]] = {
    "models": ("model", "api", "mock_tps"),
    "doctor": ("rounds", "max_reconnects", "temperature", "max_tokens", "system",
               "prompt_template"),
    "swarm": ("mock_tps",),
}  # fmt: skip
# Where a command starts from other defaults than Settings'.
COMMAND_DEFAULTS = {
    "practice": Settings(pin="pratica", participant_id="pratica", nickname="Você", rounds=1),
    "swarm": Settings(runner="mock", model="mock"),
}


def command_options(command: str) -> tuple[str, ...]:
    """Every option ``command`` accepts: those it shows, then those it tolerates."""
    return (*COMMANDS[command], *TOLERATED.get(command, ()))


def make_settings(
    command: str = "play",
    /,
    *,
    config_file: str | None = None,
    environ: Mapping[str, str] | None = None,
    **options: Any,
) -> Settings:
    """The settings of one command, every value checked exactly as the command line does.

    Precedence: ``options`` > ``environ`` > ``config_file`` > the command's defaults.

    Args:
        command: ``play``, ``agent``, ``practice``, ``models``, ``doctor``,
            ``swarm`` or ``runners``: which options it takes, which it requires
            and its defaults (``practice`` needs no PIN and plays one round).
        config_file: a TOML file with the options (``max-tokens = 300``), as
            ``--config``.
        environ: where to read ``GAMBIARRA_*`` variables (pass ``os.environ``
            to behave like the command line); None reads none.
        **options: values by option name (``max_tokens=300``). Text is read as
            a flag's text is (``rounds="3"``), other values as in the config
            file; None means "not given".

    Raises:
        ConfigError: an unknown command or option, an option the command does
            not take, a bad value, a missing required option or an unreadable
            file: one Portuguese line saying what to fix.
    """
    if command not in COMMANDS:
        raise ConfigError(f"comando desconhecido {command!r}; use um de: {', '.join(COMMANDS)}")
    names = command_options(command)
    values = from_file(config_file, names) if config_file else {}
    if environ is not None:
        values.update(from_env(environ, names))
    for key, value in options.items():
        option = OPTION_BY_KEY.get(key)
        if option is None:
            raise ConfigError(f"opção desconhecida {key[:60]!r}; confira o nome da opção")
        if option.name not in names:
            raise ConfigError(f"{option.flag} não vale para o comando {command}")
        if value is None:
            continue
        if isinstance(value, str):  # as typed on the command line
            values[option.name] = parse_value(option, value, option.flag)
        else:  # as written in the config file
            values[option.name] = typed_value(option, value, option.flag)
    return complete(command, values)


def complete(command: str, given: Mapping[str, Any]) -> Settings:
    """Rules that a single option cannot check: required options, pairs, files.

    Raises:
        ConfigError: one line saying what is missing or wrong.
    """
    missing = [
        f"{o.flag} (ou {o.env})"
        for o in OPTIONS
        if command in o.required_by and not given.get(o.name)
    ]
    if missing:
        raise ConfigError("falta informar " + ", ".join(missing))
    settings = replace(COMMAND_DEFAULTS.get(command, Settings()), **given)
    if settings.runner == "mock" and "model" not in given:
        settings = replace(settings, model="mock")  # don't show a real model's name for fake text
    if settings.api is not None and settings.api not in APIS.get(settings.runner, ()):
        allowed = " ou ".join(APIS.get(settings.runner, ())) or "nenhuma escolha"
        raise ConfigError(
            f"--api {settings.api} não vale para --runner {settings.runner} ({allowed})"
        )
    _check_files(settings)
    if command == "practice" and settings.world and settings.pulses is None:
        settings = replace(settings, pulses=20)
    return settings


TEMPLATE_FILE_LIMIT = 256 * 1024  # bytes; a prompt template is a page or two


def _check_files(settings: Settings) -> None:
    """Files are read (and thrown away) now, so a bad one stops the start, not a round."""
    if settings.prompt_template is not None:
        from gambiarra.domain.prompting import PLACEHOLDER

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
