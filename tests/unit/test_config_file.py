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
        ('runner = "gpt"\n', "runner: valor inválido 'gpt': use ollama, lmstudio"),
        ("think = 1\n", "think deve ser true ou false"),
        ("isto não é toml\n", "linha 1: não é TOML válido ('isto não é toml')"),
        ('pin = "1"\nnickname = Ana\n', "linha 2: não é TOML válido ('nickname = Ana')"),
        ('nickname = "Ana\n', "linha 1: não é TOML válido"),
        ("temperature = inf\n", "temperature: valor inválido 'inf': use um número de 0 até 2"),
        ("max-tokens = 1e23\n", "max-tokens deve ser um número inteiro (veio 1e+23)"),
        ('color = "vermelho"\n', "color: valor inválido 'vermelho': use uma cor como #ff5e5e"),
        ('nickname = "Ana\\u001b[31m"\n', "caractere de controle ou invisível (U+001B)"),
        ('url = "ws://[::1"\n', "url: valor inválido 'ws://[::1': escreva o IPv6 entre colchetes"),
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


def test_the_toml_error_says_what_to_write_in_portuguese(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('pin = "1"\nnickname = Ana\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        parse(["--config", str(path)], {})
    message = str(caught.value)
    assert message.startswith(f"{path}, linha 2: ")
    assert 'texto entre aspas, como nickname = "Ana"' in message
    assert "Invalid" not in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b'nickname = "Jos\xe9"\n', "o arquivo não está em UTF-8 (linha 1); salve-o como UTF-8"),
        (b'pin = "1"\n\n# \xe7\xe3o\n', "não está em UTF-8 (linha 3)"),
        (b"x" * (4 * 1024 * 1024 + 1), "o arquivo passa de 4 MiB; use um arquivo menor"),
    ],
)
def test_a_file_that_is_not_utf8_or_too_big_is_one_line(
    tmp_path: Path, content: bytes, needle: str
) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        parse(["--config", str(path)], {})
    assert str(caught.value).startswith(f"{path}: ")
    assert needle in str(caught.value)


def test_a_file_saved_with_a_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes('\ufeffpin = "1"\nparticipant-id = "p"\nnickname = "Zoë"\n'.encode())
    assert parse(["--config", str(path)], {}).settings.nickname == "Zoë"


def test_a_nickname_of_megabytes_is_refused_in_a_short_line(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f'pin = "1"\nparticipant-id = "p"\nnickname = "{"A" * 1_500_000}"\n')
    with pytest.raises(ConfigError) as caught:
        parse(["--config", str(path)], {})
    assert "nickname: valor inválido 'AAAA" in str(caught.value)
    assert "use no máximo 40 caracteres" in str(caught.value)
    assert len(str(caught.value)) < 300


def test_a_secret_in_the_file_is_not_echoed(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("pin = 654321\n")
    with pytest.raises(ConfigError) as caught:
        parse(["models", "--config", str(path)], {})
    assert "pin deve ser um texto (veio (oculto))" in str(caught.value)
    assert "654321" not in str(caught.value)
