"""The README documents every option, variable and exit code the client has."""

from __future__ import annotations

from gambiarra.config import OPTIONS
from gambiarra.errors import ExitCode
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_commands() -> None:
    blocks = README.split("```bash\n")[1:3]
    first, second = (block.split("```")[0].strip() for block in blocks)
    assert first.endswith("gambiarra-client practice --runner mock")
    assert second.endswith("tox")


def test_ci_runs_exactly_the_readme_test_command() -> None:
    second = README.split("```bash\n")[2].split("```")[0].strip()
    assert second in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def test_every_option_and_variable_is_documented() -> None:
    for option in OPTIONS:
        assert f"`{option.flag}`" in README
        assert f"`{option.env}`" in README


def test_every_exit_code_is_documented() -> None:
    for code in ExitCode:
        assert f"| {int(code)} |" in README
