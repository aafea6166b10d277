"""The example program prints the events of a practice round, through the public API only."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.conftest import REPO
from tests.e2e.conftest import clean_env

PROGRAM = REPO / "examples" / "eventos_do_ensaio.py"


def test_the_example_program_prints_a_practice_rounds_events_in_order() -> None:
    result = subprocess.run(
        [sys.executable, str(PROGRAM)],
        capture_output=True, text=True, encoding="utf-8", timeout=30, env=clean_env(),
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:4] == [
        "CheckingModel", "Connecting", "Connected", "round_started rodada 1: Conte até cinco.",
    ]  # fmt: skip
    assert lines[-1] == "session_ended código 0"
    (ended,) = [line for line in lines if line.startswith("round_ended")]
    tokens = [line for line in lines if line.startswith("tokens")]
    assert ended.startswith(f"round_ended   rodada 1: finished, {len(tokens)} tokens")
    assert result.stderr == ""  # diagnostics stay at warning level, and there were none


def test_the_example_program_imports_nothing_but_the_public_package() -> None:
    tree = ast.parse(PROGRAM.read_text(encoding="utf-8"))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert {name for name in imported if name and name.startswith("gambiarra")} == {"gambiarra"}
