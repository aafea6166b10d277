"""Every input is checked before anything starts: one Portuguese line and exit code 2."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gambiarra.cli import parse, run
from gambiarra.errors import ConfigError, ExitCode

REQUIRED = ["--pin", "1234", "--participant-id", "ana-pc", "--nickname", "Ana"]

REJECTED = [
    # the arena's address
    (["--url", "ws://127.0.0.1:99999/ws"], "a porta deve ser um número de 1 a 65535"),
    (["--url", "ws://127.0.0.1:0/ws"], "a porta deve ser um número de 1 a 65535"),
    (["--url", "ws://arena:http/ws"], "a porta deve ser um número de 1 a 65535"),
    (["--url", "ws://[::1"], "escreva o IPv6 entre colchetes"),
    (["--url", "ws://::1:3000/ws"], "escreva o IPv6 entre colchetes"),
    (["--url", "ws://[::1]x/ws"], "escreva o IPv6 entre colchetes"),
    (["--url", "ws://[zz]:3000/ws"], "[zz] não é um endereço IPv6 válido"),
    (["--url", "http://arena:3000/ws"], "use um endereço ws:// ou wss://"),
    (["--url", "arena:3000"], "use um endereço ws:// ou wss://"),
    (["--url", "ws:///ws"], "falta o nome ou IP da máquina"),
    (["--url", "ws://are na:3000/ws"], "tire os espaços"),
    (["--url", "ws://arena/ws#sala"], "tire o #"),
    # the model servers' addresses
    (["--ollama-url", "http://127.0.0.1:99999"], "a porta deve ser um número de 1 a 65535"),
    (["--ollama-url", "ws://localhost:11434"], "use um endereço http:// ou https://"),
    (["--base-url", "localhost:8000/v1"], "use um endereço http:// ou https://"),
    (["--lmstudio-url", "http://[::1:1234"], "escreva o IPv6 entre colchetes"),
    # colour
    (["--color", "notacolor"], "use uma cor como #ff5e5e"),
    (["--color", "#fff"], "use uma cor como #ff5e5e"),
    (["--color", "#gggggg"], "use uma cor como #ff5e5e"),
    # nickname and participant id
    (["--nickname", "   "], "--nickname: valor inválido '   ': não pode ficar em branco"),
    (["--nickname", "Ana\x1b[31m"], "caractere de controle ou invisível (U+001B)"),
    (["--nickname", "Ana\nBob"], "(U+000A)"),
    (["--nickname", "Ana\tBob"], "(U+0009)"),
    (["--nickname", "Ana\x85"], "(U+0085)"),  # a C1 control
    (["--nickname", "\u202eanA"], "(U+202E)"),  # right-to-left override
    (["--nickname", "Ana\u2028Bob"], "(U+2028)"),  # line separator
    (["--nickname", "Ana\U000e0041\U000e0042"], "(U+E0041)"),  # invisible tag letters
    (["--nickname", "Ana\u200b"], "(U+200B)"),  # zero-width space
    (["--nickname", "x" * 41], "use no máximo 40 caracteres (emoji contam 2)"),
    (["--nickname", "🦊" * 21], "use no máximo 40 caracteres"),
    (["--participant-id", "p" * 65], "use no máximo 64 caracteres"),
    (["--participant-id", "ana\rpc"], "(U+000D)"),
    (["--participant-id", "ana-\udce9"], "bytes que não são UTF-8"),
    # numbers
    (["--temperature", "inf"], "--temperature: valor inválido 'inf': use um número de 0 até 2"),
    (["--temperature", "nan"], "use um número de 0 até 2"),
    (["--temperature", "-1"], "use um número de 0 até 2"),
    (["--temperature", "2.5"], "use um número de 0 até 2"),
    (["--max-tokens", "1e23"], "--max-tokens: valor inválido '1e23': use um número inteiro"),
    (["--max-tokens", "0"], "use um número inteiro de 1 a 1000000"),
    (["--max-tokens", "1000001"], "use um número inteiro de 1 a 1000000"),
    (["--max-tokens", "400.0"], "use um número inteiro de 1 a 1000000"),
    (["--max-tokens", "9" * 5000], "use um número inteiro de 1 a 1000000"),
    (["--runner-timeout", "0"], "use um número maior que 0 até 3600"),
    (["--runner-timeout", "inf"], "use um número maior que 0 até 3600"),
    (["--rounds", "-3"], "use um número inteiro de 1 a 1000000"),
    (["--max-reconnects", "muitas"], "use um número inteiro de 0 a 1000000"),
    (["--mock-tps", "-1"], "use um número de 0 até 100000"),
    # where the live page listens
    (["--web-host", "http://0.0.0.0"], "use um endereço desta máquina, como 127.0.0.1"),
    (["--web-host", "0.0.0.0:8080"], "use um endereço desta máquina"),
    (["--web-host", "meu pc"], "use um endereço desta máquina"),
    (["--web-host", "192.168.0.300"], "use um endereço desta máquina"),
    (["--web-host", ""], "use um endereço desta máquina"),
    # a choice and a yes/no from the environment are in Portuguese too
    (["--log-level", "loud"], "escolha inválida: 'loud'"),
]


@pytest.mark.parametrize(("args", "needle"), REJECTED)
def test_a_bad_value_stops_parsing_with_what_to_write(args: list[str], needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(["agent", *REQUIRED, *args], {})
    assert needle in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("args", "needle"), REJECTED[:6])
def test_run_prints_one_line_and_exits_2(
    capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    assert run([*REQUIRED, *args], {}) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert err.startswith("gambiarra-client: ")
    assert err.count("\n") == 1
    assert needle in err
    assert "(veja gambiarra-client --help)" in err


def test_the_hint_names_the_subcommand_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["models", "--ollama-url", "http://127.0.0.1:99999"], {}) == ExitCode.USAGE
    assert "(veja gambiarra-client models --help)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--url", "ws://[::1]:3000/ws"], ("url", "ws://[::1]:3000/ws")),
        (["--url", "WSS://arena.example.org/ws"], ("url", "WSS://arena.example.org/ws")),
        (["--url", "ws://ana:segredo@10.0.0.5:65535/ws"], ("url", "ws://ana:segredo@10.0.0.5:65535/ws")),
        (["--ollama-url", "http://[fe80::1%eth0]:11434"], ("ollama_url", "http://[fe80::1%eth0]:11434")),
        (["--base-url", "https://llm.local/v1"], ("base_url", "https://llm.local/v1")),
        (["--color", "#FF5E5E"], ("color", "#FF5E5E")),
        (["--nickname", "  Ana  "], ("nickname", "Ana")),
        (["--nickname", "👩‍💻 Ana da Silva"], ("nickname", "👩‍💻 Ana da Silva")),
        (["--nickname", "🦊" * 20], ("nickname", "🦊" * 20)),
        (["--nickname", "Zoë\u00a0Ω"], ("nickname", "Zoë\u00a0Ω")),
        (["--participant-id", "p" * 64], ("participant_id", "p" * 64)),
        (["--emoji", "🏴󠁧󠁢󠁳󠁣󠁴󠁿"], ("emoji", "🏴󠁧󠁢󠁳󠁣󠁴󠁿")),
        (["--emoji", ""], ("emoji", "")),
        (["--temperature", "0"], ("temperature", 0.0)),
        (["--temperature", "2"], ("temperature", 2.0)),
        (["--max-tokens", "1000000"], ("max_tokens", 1_000_000)),
        (["--max-reconnects", "0"], ("max_reconnects", 0)),
        (["--strategy", "primeiro:\n\tcomer"], ("strategy", "primeiro:\n\tcomer")),
        (["--web"], ("web", True)),
        (["--web-host", "0.0.0.0"], ("web_host", "0.0.0.0")),
        (["--web-host", "[::1]"], ("web_host", "::1")),
        (["--web-host", "meu-pc.local"], ("web_host", "meu-pc.local")),
    ],
)  # fmt: skip
def test_good_values_pass_as_given(args: list[str], expected: tuple[str, object]) -> None:
    name, value = expected
    assert getattr(parse(["agent", *REQUIRED, *args], {}).settings, name) == value


def test_a_secret_is_never_echoed_in_the_error() -> None:
    with pytest.raises(ConfigError) as caught:
        parse(["--pin", "segredo\x1b", "--participant-id", "p", "--nickname", "n"], {})
    assert "--pin: valor inválido (oculto)" in str(caught.value)
    assert "segredo" not in str(caught.value)


def test_a_huge_value_is_shown_short() -> None:
    with pytest.raises(ConfigError) as caught:
        parse([*REQUIRED, "--nickname", "N" * 1_500_000], {})
    assert "use no máximo 40 caracteres" in str(caught.value)
    assert len(str(caught.value)) < 200


def test_the_environment_is_checked_and_named() -> None:
    with pytest.raises(ConfigError, match="a variável GAMBIARRA_TEMPERATURE: valor inválido 'nan'"):
        parse(REQUIRED, {"GAMBIARRA_TEMPERATURE": "nan"})
    with pytest.raises(ConfigError, match="GAMBIARRA_COLOR: valor inválido 'azul'"):
        parse(["agent", *REQUIRED], {"GAMBIARRA_COLOR": "azul"})


@pytest.mark.parametrize(
    ("argv", "missing"),
    [
        (["agent"], "falta informar --pin (ou GAMBIARRA_PIN), --participant-id"),
        (["agent", "--pin", "1", "--participant-id", "p"], "--nickname (ou GAMBIARRA_NICKNAME)"),
        (["--pin", "1", "--nickname", "n"], "falta informar --participant-id"),
        (["swarm"], "falta informar --pin (ou GAMBIARRA_PIN)"),
    ],
)
def test_commands_that_register_need_pin_id_and_nickname(argv: list[str], missing: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(argv, {})
    assert missing in str(caught.value)


def test_doctor_models_and_practice_need_none_of_them() -> None:
    assert parse(["doctor"], {}).settings.pin == ""
    assert parse(["models"], {}).name == "models"
    assert parse(["practice"], {}).settings.participant_id == "pratica"


def test_the_play_line_can_be_rerun_as_doctor_or_models() -> None:
    """Options a command does not use are still taken (and checked), not shown."""
    line = [*REQUIRED, "--rounds", "3", "--temperature", "0.5", "--model", "qwen3:4b"]
    assert parse(["doctor", *line], {}).settings.model == "qwen3:4b"
    assert parse(["models", "--model", "qwen3:4b", "--api", "chat", "--runner", "openai"], {})
    with pytest.raises(ConfigError, match="--temperature: valor inválido"):
        parse(["doctor", "--temperature", "inf"], {})


def test_practice_prompt_cannot_be_blank() -> None:
    with pytest.raises(ConfigError, match="--prompt: não pode ficar em branco"):
        parse(["practice", "--prompt", "  "], {})


@pytest.mark.parametrize(
    ("option", "content", "needle"),
    [
        (
            "--prompt-template",
            b"Responda:\n{prompt} \xe9\n",
            "n\u00e3o est\u00e1 em UTF-8 (linha 2)",
        ),
        ("--agent-template", b"\xff\xfeR\x00", "não está em UTF-8 (linha 1); salve-o como UTF-8"),
        ("--prompt-template", b"Responda curto.", "o modelo precisa conter {prompt}"),
        ("--prompt-template", b"x" * (256 * 1024 + 1), "o arquivo passa de 256 KiB"),
    ],
)
def test_template_files_are_read_as_utf8_up_front(
    tmp_path: Path, option: str, content: bytes, needle: str
) -> None:
    path = tmp_path / "modelo.txt"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        parse(["agent", *REQUIRED, option, str(path)], {})
    assert f"{option} {path}: " in str(caught.value)
    assert needle in str(caught.value)


def test_a_template_with_a_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "modelo.txt"
    path.write_bytes("\ufeffResponda: {prompt}".encode())
    assert parse([*REQUIRED, "--prompt-template", str(path)], {}).settings.prompt_template


@pytest.mark.parametrize(
    ("option", "make", "needle"),
    [
        ("--agent-template", lambda p: p / "nada.txt", "arquivo não encontrado"),
        ("--prompt-template", lambda p: p, "é uma pasta, não um arquivo"),
        ("--ca-file", lambda p: p / "nada.pem", "não consegui ler o arquivo (arquivo não"),
    ],
)  # fmt: skip
def test_missing_files_are_named(
    tmp_path: Path, option: str, make: Callable[[Path], Path], needle: str
) -> None:
    path = make(tmp_path)
    with pytest.raises(ConfigError) as caught:
        parse(["agent", *REQUIRED, option, str(path)], {})
    assert needle in str(caught.value)


def test_save_dir_must_not_be_a_file(tmp_path: Path) -> None:
    (tmp_path / "arquivo").write_text("x")
    with pytest.raises(ConfigError, match="já existe e não é uma pasta"):
        parse([*REQUIRED, "--save-dir", str(tmp_path / "arquivo")], {})
    assert parse([*REQUIRED, "--save-dir", str(tmp_path / "nova")], {}).settings.save_dir
