"""Command-line parsing: the original options, env variables, precedence, errors."""

from __future__ import annotations

import argparse
from importlib import metadata

import pytest

import gambiarra
from gambiarra.cli import COMMANDS, parse, run, version
from gambiarra.config import OPTION_BY_NAME
from gambiarra.errors import ConfigError, ExitCode

REQUIRED = ["--pin", "1234", "--participant-id", "ana-pc", "--nickname", "Ana"]


def test_defaults_of_the_original_client() -> None:
    settings = parse(REQUIRED, {}).settings
    assert (settings.url, settings.runner, settings.model) == (
        "ws://localhost:3000/ws",
        "ollama",
        "llama3.1:8b",
    )
    assert (settings.temperature, settings.max_tokens) == (0.8, 400)
    assert (settings.ollama_url, settings.lmstudio_url) == (
        "http://localhost:11434",
        "http://localhost:1234",
    )
    assert (settings.pin, settings.participant_id, settings.nickname) == ("1234", "ana-pc", "Ana")


def test_environment_fills_in_and_flags_win() -> None:
    env = {
        "GAMBIARRA_PIN": "1111",
        "GAMBIARRA_PARTICIPANT_ID": "env-id",
        "GAMBIARRA_NICKNAME": "Env",
        "GAMBIARRA_TEMPERATURE": "0",
        "GAMBIARRA_MAX_TOKENS": "99",
        "GAMBIARRA_RUNNER": "lmstudio",
    }
    settings = parse(["--nickname", "Flag"], env).settings
    assert (settings.pin, settings.participant_id, settings.nickname) == ("1111", "env-id", "Flag")
    assert (settings.temperature, settings.max_tokens, settings.runner) == (0.0, 99, "lmstudio")


def test_missing_required_options_name_flag_and_variable() -> None:
    with pytest.raises(ConfigError, match="--pin \\(ou GAMBIARRA_PIN\\)"):
        parse(["--participant-id", "a", "--nickname", "b"], {})


@pytest.mark.parametrize(
    ("argv", "env", "needle"),
    [
        ([*REQUIRED, "--max-tokens", "zero"], {}, "--max-tokens"),
        ([*REQUIRED, "--temperature", "-1"], {}, "--temperature"),
        (REQUIRED, {"GAMBIARRA_MAX_TOKENS": "lots"}, "GAMBIARRA_MAX_TOKENS"),
        (REQUIRED, {"GAMBIARRA_RUNNER": "gpt"}, "GAMBIARRA_RUNNER"),
        ([*REQUIRED, "--runner", "gpt"], {}, "--runner"),
        ([*REQUIRED, "--bogus"], {}, "--bogus"),
    ],
)
def test_bad_values_are_config_errors_naming_their_source(
    argv: list[str], env: dict[str, str], needle: str
) -> None:
    with pytest.raises(ConfigError, match=needle):
        parse(argv, env)


def test_mock_runner_is_labelled_mock_unless_a_model_is_given() -> None:
    assert parse([*REQUIRED, "--runner", "mock"], {}).settings.model == "mock"
    assert parse([*REQUIRED, "--runner", "mock", "--model", "x"], {}).settings.model == "x"


def test_practice_needs_no_pin_and_plays_one_round_by_default() -> None:
    command = parse(["practice", "--runner", "mock", "--prompt", "Oi?"], {})
    assert (command.name, command.prompt, command.settings.rounds) == ("practice", "Oi?", 1)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_help_of_each_command_lists_its_options_and_variables(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    argv = ["--help"] if command == "play" else [command, "--help"]
    assert run(argv, {}) == ExitCode.OK
    out = capsys.readouterr().out
    for name in COMMANDS[command]:
        option = OPTION_BY_NAME[name]
        assert option.flag in out
        assert option.env in out


def test_main_help_names_the_subcommands_and_the_challenge_rule(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run(["--help"], {})
    out = capsys.readouterr().out
    for command in ("practice", "agent", "models", "doctor"):
        assert command in out
    assert "desafio" in out  # says the challenge's own values win over the flags


def test_usage_errors_exit_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--pin"], {}) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--nope"], "argumentos não reconhecidos: --nope"),
        (["--log-level", "nope"], "--log-level: escolha inválida: 'nope' (use uma de 'debug'"),
        (["--nickname"], "--nickname: falta o valor desta opção"),
        (["--json=sim"], "--json: esta opção não leva valor"),
        (["models", "--url", "ws://x/ws"], "argumentos não reconhecidos: --url"),
    ],
)
def test_argparse_speaks_portuguese(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    assert run(argv, {}) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert needle in err
    assert err.count("\n") == 1


def test_help_is_in_portuguese_and_argparse_is_left_as_it_was(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = (argparse._, argparse.ngettext)  # type: ignore[attr-defined]
    assert run(["--help"], {}) == ExitCode.OK
    out = capsys.readouterr().out
    assert out.startswith("uso: gambiarra-client [SUBCOMANDO] [opções]")
    assert "\nopções:\n" in out
    assert "-h, --help            mostra esta ajuda e sai" in out
    for english in ("usage:", "options:", "show this help", "default"):
        assert english not in out
    assert (argparse._, argparse.ngettext) == before  # type: ignore[attr-defined]
    assert argparse.ArgumentParser(prog="x").format_usage() == "usage: x [-h]\n"


def test_main_help_points_to_each_subcommands_help(capsys: pytest.CaptureFixture[str]) -> None:
    run(["--help"], {})
    assert "gambiarra-client SUBCOMANDO --help" in capsys.readouterr().out


@pytest.mark.parametrize("command", list(COMMANDS))
def test_help_never_shows_an_empty_default(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    run([command, "--help"], {})
    out = capsys.readouterr().out
    for empty in ("padrão: None", "padrão: False", "padrão: ]", "padrão: ;"):
        assert empty not in out


def test_help_hides_the_options_a_command_ignores(capsys: pytest.CaptureFixture[str]) -> None:
    run(["doctor", "--help"], {})
    doctor = capsys.readouterr().out
    run(["models", "--help"], {})
    models = capsys.readouterr().out
    assert "--max-tokens" not in doctor
    assert "--rounds" not in doctor
    assert "--pin" in doctor
    assert "--think" in doctor
    assert "--model " not in models
    assert "--mock-tps" not in models
    assert "--runner" in models


def test_required_is_shown_exactly_where_it_is_checked(capsys: pytest.CaptureFixture[str]) -> None:
    run(["agent", "--help"], {})
    assert capsys.readouterr().out.count("obrigatório") == 3
    run(["doctor", "--help"], {})
    assert "obrigatório" not in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["--version"], ["-V"], ["agent", "--version"]])
def test_version_prints_the_package_version(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert run(argv, {}) == ExitCode.OK
    assert capsys.readouterr().out == f"gambiarra-client {gambiarra.__version__}\n"
    assert version() == metadata.version("gambiarra-client") == gambiarra.__version__


def test_version_falls_back_to_the_source_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)
    assert version() == gambiarra.__version__
