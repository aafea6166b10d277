"""The benchmark scripts' quick modes run and end with a well-formed JSON line.

Speed is not asserted here (it depends on the machine); the figures go in
the log for whoever reads CI's output.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.e2e.conftest import clean_env


@pytest.mark.parametrize("name", ["relay", "startup", "swarm"])
def test_quick_benchmark_prints_its_figures(name: str) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / f"{name}.py"), "--quick"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        env=clean_env(),
        check=False,
    )
    print(result.stdout)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["benchmark"] == name
    assert figures["quick"] is True
    if name == "relay":
        assert all(r["correct"] for r in figures["results"])
    if name == "swarm":
        assert all(r["tokens_lost"] == 0 for r in figures["results"])
