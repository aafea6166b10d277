"""The public API: every name documented, ``import gambiarra`` light, the CHANGELOG
in step with ``__all__``, and ``make_settings`` checking exactly as the command line."""

from __future__ import annotations

import ast
import inspect
import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import gambiarra
from gambiarra import ConfigError, make_settings
from gambiarra.cli import parse
from tests.conftest import REPO

PACKAGE = Path(gambiarra.__file__).parent
REQUIRED = {"pin": "1", "participant_id": "ana-pc", "nickname": "Ana"}


def attribute_docstrings(path: Path) -> set[str]:
    """Module-level names followed by a string literal: how aliases and constants are documented."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    documented = set()
    for node, after in itertools.pairwise(body):
        is_doc = isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
        if is_doc and isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            documented.update(t.id for t in targets if isinstance(t, ast.Name))
    return documented


def test_every_public_name_has_its_own_documentation() -> None:
    aliases = set().union(*(attribute_docstrings(path) for path in PACKAGE.rglob("*.py")))
    for name in gambiarra.__all__:
        value = getattr(gambiarra, name)
        if inspect.isclass(value):
            assert vars(value).get("__doc__"), f"{name} has no docstring of its own"
        elif inspect.isfunction(value):
            assert value.__doc__, f"{name} has no docstring"
        else:
            assert name in aliases, f"{name} needs a docstring under its assignment"


def test_importing_gambiarra_loads_no_io_library_until_a_session_is_used() -> None:
    script = (
        "import json, sys\n"
        "import gambiarra\n"
        "gambiarra.make_settings('practice')\n"
        "light = sorted(sys.modules)\n"
        "gambiarra.Tokens\n"
        "print(json.dumps([light, sorted(sys.modules)]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    light, after = ({name.split(".")[0] for name in names} for names in json.loads(result.stdout))
    assert not light & {"anyio", "msgspec", "httpx", "websockets", "structlog", "ssl"}
    assert "msgspec" in after  # loaded on first use


def test_lazy_names_are_listed_and_unknown_ones_raise_attribute_error() -> None:
    assert set(gambiarra.__all__) <= set(dir(gambiarra))
    with pytest.raises(AttributeError, match="no attribute 'Nada'"):
        gambiarra.Nada  # noqa: B018


def changelog_names() -> set[str]:
    """Replay the CHANGELOG from its oldest version up: who entered, who left."""
    text = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n")]
    names: set[str] = set()
    for paragraph in reversed(paragraphs):
        entering = paragraph.startswith("Entram na API:")
        if not (entering or paragraph.startswith("Saem da API:")):
            continue
        listed = set(re.findall(r"`([^`]+)`", paragraph))
        if entering:
            assert not listed & names, f"listed as entering twice: {listed & names}"
            names |= listed
        else:
            assert listed <= names, f"leaving without having entered: {listed - names}"
            names -= listed
    return names


def test_the_changelog_lists_every_name_that_entered_or_left_the_api() -> None:
    """Change ``__all__`` and this fails until the CHANGELOG says so."""
    assert changelog_names() == set(gambiarra.__all__)


@pytest.mark.parametrize(
    ("option", "raw"),
    [
        ("max_tokens", "0"),
        ("temperature", "3"),
        ("url", "http://arena/ws"),
        ("runner", "gpt"),
        ("runner", "pacote:"),
        ("color", "vermelho"),
        ("nickname", "Ana\x1b[31m"),
        ("keep_alive", "sempre"),
    ],
)
def test_a_program_gets_the_same_errors_as_the_command_line(option: str, raw: str) -> None:
    flag = "--" + option.replace("_", "-")
    argv = ["agent", "--pin", "1", "--participant-id", "a", "--nickname", "b", flag, raw]
    with pytest.raises(ConfigError) as from_cli:
        parse(argv, {})
    with pytest.raises(ConfigError) as from_program:
        make_settings("agent", **{**REQUIRED, option: raw})
    assert str(from_program.value) == str(from_cli.value)
    assert str(from_cli.value).startswith(flag)


def test_values_may_be_typed_or_text_as_the_config_file_and_the_flags_take_them() -> None:
    settings = make_settings("play", **REQUIRED, rounds=3, temperature=0, keep_alive="10m")
    assert (settings.rounds, settings.temperature, settings.keep_alive) == (3, 0.0, 600.0)
    assert make_settings("play", **REQUIRED, rounds="3").rounds == 3
    with pytest.raises(ConfigError, match="--rounds deve ser um número inteiro"):
        make_settings("play", **REQUIRED, rounds=True)
    assert make_settings("play", **REQUIRED, think=None).think is None  # None: not given


def test_options_a_command_does_not_take_or_that_do_not_exist_are_refused() -> None:
    with pytest.raises(ConfigError, match="--count não vale para o comando play"):
        make_settings("play", **REQUIRED, count=3)
    with pytest.raises(ConfigError, match="opção desconhecida 'max_tokns'"):
        make_settings("play", **REQUIRED, max_tokns=3)
    with pytest.raises(ConfigError, match="comando desconhecido 'jogar'"):
        make_settings("jogar")
    with pytest.raises(ConfigError, match=r"falta informar --pin \(ou GAMBIARRA_PIN\)"):
        make_settings("play", participant_id="a", nickname="b")


def test_each_command_starts_from_its_own_defaults() -> None:
    practice = make_settings("practice")
    assert (practice.pin, practice.participant_id, practice.rounds) == ("pratica", "pratica", 1)
    assert make_settings("practice", runner="mock").model == "mock"
    assert make_settings("swarm", pin="1").runner == "mock"


def test_keywords_win_over_the_environment_which_wins_over_the_file(tmp_path: Path) -> None:
    config = tmp_path / "gambiarra.toml"
    config.write_text('nickname = "Arquivo"\nmax-tokens = 11\nrounds = 2\n', encoding="utf-8")
    environ = {"GAMBIARRA_MAX_TOKENS": "22", "GAMBIARRA_ROUNDS": "5"}
    settings = make_settings(
        "play", config_file=str(config), environ=environ, pin="1", participant_id="a", rounds=9
    )
    assert (settings.nickname, settings.max_tokens, settings.rounds) == ("Arquivo", 22, 9)
    # Without ``environ`` no variable is read: a program says where its values come from.
    assert make_settings("play", config_file=str(config), **REQUIRED).max_tokens == 11


@pytest.mark.parametrize(
    ("argv", "called", "options"),
    [
        (["--pin", "1", "--participant-id", "a", "--nickname", "b"], "play", {"screen": "auto"}),
        (
            ["agent", "--pin", "1", "--participant-id", "a", "--nickname", "b"],
            "play",
            {"screen": "auto", "world": True},
        ),
        (["practice", "--prompt", "Oi?"], "practice", {"prompt": "Oi?", "screen": None}),
        (["practice", "--world"], "practice", {"screen": "console"}),
    ],
)
def test_the_command_line_plays_through_the_public_api(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], called: str, options: dict[str, object]
) -> None:
    """The proof that the API is enough: the sessions of the CLI are ``gambiarra.play``
    and ``gambiarra.practice``, given the settings ``make_settings`` built."""
    from gambiarra.app import execute

    calls: list[tuple[str, gambiarra.Settings, dict[str, object]]] = []

    def recorder(name: str):  # type: ignore[no-untyped-def]
        async def session(settings: gambiarra.Settings, **kwargs: object) -> None:
            calls.append((name, settings, kwargs))

        return session

    monkeypatch.setattr(gambiarra, "play", recorder("play"))
    monkeypatch.setattr(gambiarra, "practice", recorder("practice"))
    command = parse(argv, {})
    assert execute(command.name, command.settings, command.prompt) == 0
    ((name, settings, kwargs),) = calls
    assert name == called
    assert settings == command.settings
    assert options.items() <= kwargs.items()
