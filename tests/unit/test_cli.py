"""Command-line parsing: the original options, env variables, precedence, errors."""

from __future__ import annotations

import pytest

from gambiarra.cli import COMMANDS, parse, run
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
