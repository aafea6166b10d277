"""startup: how fast, and how big, the client starts.

Measures the wall time and peak memory of ``gambiarra-client --help``, and of
reaching "registered" against a local practice arena (with the mock model).

    python benchmarks/startup.py            # 15 runs each
    python benchmarks/startup.py --quick    # 3 runs each (CI)
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from typing import Any

import anyio
from _common import CLIENT, median, peak_rss_mib, print_json, print_table

from gambiarra.arena.server import PracticeArena


def help_runs(runs: int) -> dict[str, Any]:
    walls, peaks = [], []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([CLIENT, "--help"], capture_output=True, check=True)
        walls.append((time.perf_counter() - started) * 1000)
        peak, _ = peak_rss_mib([CLIENT, "--help"])
        peaks.append(peak)
    return {"help_ms_median": round(median(walls), 1), "help_peak_mib": round(max(peaks), 1)}


async def registered_once() -> tuple[float, float]:
    """Wall time to "registered", and peak RSS of the client over its life."""
    async with PracticeArena(pin="1") as arena:
        wrapper = (
            "import resource, subprocess, sys, signal;"
            "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL,"
            " stderr=subprocess.DEVNULL);"
            "signal.signal(signal.SIGTERM, lambda *a: p.send_signal(signal.SIGINT));"
            "p.wait();"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        )
        args = [
            sys.executable, "-c", wrapper, CLIENT, "--url", arena.url, "--participant-id", "boot",
            "--nickname", "Boot", "--runner", "mock",
        ]  # fmt: skip
        started = anyio.current_time()
        process = await anyio.open_process(
            args,
            env={**os.environ, "GAMBIARRA_PIN": "1", "GAMBIARRA_NO_HISTORY": "1"},
            stderr=subprocess.DEVNULL,
        )
        async with process:
            await arena.wait_registered("boot")
            wall = (anyio.current_time() - started) * 1000
            process.send_signal(signal.SIGTERM)
            await process.wait()
            assert process.stdout is not None
            peak_kib = int((await process.stdout.receive()).decode().strip())
    return wall, peak_kib / 1024


async def main(quick: bool) -> None:
    runs = 3 if quick else 15
    figures: dict[str, Any] = help_runs(runs)
    measured = [await registered_once() for _ in range(runs)]
    figures["registered_ms_median"] = round(median([m[0] for m in measured]), 1)
    figures["registered_peak_mib"] = round(max(m[1] for m in measured), 1)
    print_table(
        f"startup ({runs} execuções)",
        [
            ("--help: tempo (mediana)", f"{figures['help_ms_median']} ms", "≤ 120 ms"),
            ("--help: memória de pico", f"{figures['help_peak_mib']} MiB", "≤ 30 MiB"),
            ("até 'registrado': tempo (mediana)", f"{figures['registered_ms_median']} ms", ""),
            ("até 'registrado': memória de pico", f"{figures['registered_peak_mib']} MiB", ""),
        ],
    )
    print_json("startup", {"quick": quick, "runs": runs, **figures})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run, for CI")
    anyio.run(main, parser.parse_args().quick)
