"""The TOML config file: same keys as the options; flag > env > file > default."""

from __future__ import annotations

from pathlib import Path

import pytest

from gambiarra.cli import parse
from gambiarra.errors import ConfigError


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "gambiarra.toml"
    path.write_text(
        'pin = "123456"\nparticipant-id = "ana-pc"\nnickname = "Ana"\n'
        'max-tokens = 300\ntemperature = 0.2\nrunner = "lmstudio"\nthink = true\n'
        'model = "do-arquivo"\n',
        encoding="utf-8",
    )
    return path


def test_the_file_fills_in_below_env_and_flags(config: Path) -> None:
    env = {"GAMBIARRA_MAX_TOKENS": "250", "GAMBIARRA_MODEL": "do-ambiente"}
    settings = parse(["--config", str(config), "--model", "da-flag"], env).settings
    assert (settings.pin, settings.participant_id, settings.nickname) == ("123456", "ana-pc", "Ana")
    assert settings.max_tokens == 250  # env beats file
    assert settings.model == "da-flag"  # flag beats env and file
    assert (settings.temperature, settings.runner, settings.think) == (0.2, "lmstudio", True)
    assert settings.ollama_url == "http://localhost:11434"  # default where nobody says


def test_the_file_can_come_from_the_environment(config: Path) -> None:
    assert parse([], {"GAMBIARRA_CONFIG": str(config)}).settings.nickname == "Ana"


def test_snake_case_keys_are_accepted_too(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('pin = "1"\nparticipant_id = "p"\nnickname = "n"\nmax_tokens = 9\n')
    assert parse(["--config", str(path)], {}).settings.max_tokens == 9


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("max-tokns = 3\n", "chave desconhecida 'max-tokns'"),
        ('max-tokens = "muitos"\n', "max-tokens deve ser um número inteiro"),
        ("max-tokens = 0\n", "max-tokens: valor inválido"),
        ("temperature = true\n", "temperature deve ser um número"),
        ("pin = 123456\n", "pin deve ser um texto"),
        ('runner = "gpt"\n', "runner: 'gpt' não é uma opção"),
        ("think = 1\n", "think deve ser true ou false"),
        ("isto não é toml\n", "não é TOML válido"),
    ],
)
def test_errors_name_the_file_and_the_key(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "ruim.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        parse(["--config", str(path), "--pin", "1", "--participant-id", "p", "--nickname", "n"], {})
    assert needle in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="não consegui ler"):
        parse(["--config", str(tmp_path / "nada.toml")], {})


def test_one_file_serves_every_command(tmp_path: Path) -> None:
    """Keys of other commands are checked, then left out."""
    path = tmp_path / "c.toml"
    path.write_text('pin = "1"\nrunner = "lmstudio"\nemoji = "🦊"\n')
    assert parse(["models", "--config", str(path)], {}).settings.runner == "lmstudio"
    path.write_text("pin = 1\n")
    with pytest.raises(ConfigError, match="pin deve ser um texto"):
        parse(["models", "--config", str(path)], {})


REQUIRED = ["--pin", "1", "--participant-id", "p", "--nickname", "n"]


def test_api_must_fit_the_runner() -> None:
    assert parse([*REQUIRED, "--api", "chat"], {}).settings.api_name == "chat"
    assert parse(REQUIRED, {}).settings.api_name == "generate"
    assert parse([*REQUIRED, "--runner", "lmstudio"], {}).settings.api_name == "completions"
    with pytest.raises(ConfigError, match="--api generate não vale para --runner lmstudio"):
        parse([*REQUIRED, "--runner", "lmstudio", "--api", "generate"], {})


def test_prompt_template_needs_the_placeholder(tmp_path: Path) -> None:
    good, bad = tmp_path / "bom.txt", tmp_path / "ruim.txt"
    good.write_text("Responda curto: {prompt}")
    bad.write_text("Responda curto.")
    assert parse([*REQUIRED, "--prompt-template", str(good)], {}).settings.prompt_template
    with pytest.raises(ConfigError, match=r"precisa conter \{prompt\}"):
        parse([*REQUIRED, "--prompt-template", str(bad)], {})


def test_think_flags() -> None:
    assert parse(REQUIRED, {}).settings.think is None
    assert parse([*REQUIRED, "--think"], {}).settings.think is True
    assert parse([*REQUIRED, "--no-think"], {}).settings.think is False
    assert parse(REQUIRED, {"GAMBIARRA_THINK": "false"}).settings.think is False
