"""swarm: the swarm command against a practice arena running in another process.

At N = 100, 500 and 1000 participants, each at 20 tokens/s, it reports what
the arena received (tokens lost, rounds completed), the swarm's own p99 token
send lag and time to first token, and the swarm process's peak memory.

    python benchmarks/swarm.py            # N = 100, 500, 1000; 2 rounds of 100 tokens
    python benchmarks/swarm.py --quick    # N = 20; 1 round of 20 tokens (CI)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from _common import CLIENT, peak_rss_mib, print_json, print_table

HERE = Path(__file__).parent


def run_swarm(count: int, rounds: int, tokens: int) -> dict[str, Any]:
    timeout = 60 + count / 25 + rounds * tokens / 10
    arena = subprocess.Popen(
        [sys.executable, str(HERE / "_arena_process.py"), str(count), str(rounds), str(tokens),
         str(timeout)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert arena.stdout is not None
    url = arena.stdout.readline().strip()
    peak, swarm = peak_rss_mib(
        [CLIENT, "swarm", "--url", url, "--pin", "1", "--count", str(count), "--rounds",
         str(rounds), "--tps", "20-20", "--ramp", "100", "--json"],
        timeout=timeout + 30,
    )  # fmt: skip
    received = json.loads(arena.stdout.read())
    arena.wait()
    tally = json.loads(swarm.stdout.strip().splitlines()[-1])["swarm"]
    sent_tokens = tally["tokens"]
    got = sum(r["tokens_received"] for r in received["rounds"])
    return {
        "participants": count,
        "rounds": rounds,
        "registered": received["registered"],
        "rounds_completed": sum(r["completes"] == count for r in received["rounds"]),
        "tokens_sent": sent_tokens,
        "tokens_received": got,
        "tokens_lost": sent_tokens - got,
        "lag_ms_p99": tally["lag_ms_p99"],
        "ttft_ms_p99": tally["ttft_ms_p99"],
        "reconnects": tally["reconnects"],
        "errors": tally["errors"],
        "peak_rss_mib": round(peak, 1),
        "rss_per_participant_kib": round(peak * 1024 / count, 1),
        "table": swarm.stdout.strip().splitlines()[:-1],
    }


def main(quick: bool) -> None:
    sizes, rounds, tokens = ([20], 1, 20) if quick else ([100, 500, 1000], 2, 100)
    results = [run_swarm(n, rounds, tokens) for n in sizes]
    if len(results) > 1:  # what one more participant costs, without the process's own base
        small, large = results[0], results[-1]
        marginal = (large["peak_rss_mib"] - small["peak_rss_mib"]) * 1024
        per = round(marginal / (large["participants"] - small["participants"]), 1)
        for r in results:
            r["marginal_kib_per_participant"] = per
    for r in results:
        print_table(
            f"swarm — {r['participants']} participantes a 20 tokens/s, {r['rounds']} rodada(s)",
            [
                ("tokens perdidos", f"{r['tokens_lost']} de {r['tokens_sent']}", "0"),
                ("rodadas completas", f"{r['rounds_completed']} de {r['rounds']}", "todas"),
                ("atraso de envio p99", f"{r['lag_ms_p99']:.1f} ms", "< 100 ms"),
                ("memória (pico)", f"{r['peak_rss_mib']} MiB", "< 300 MiB"),
                (
                    "memória por participante (marginal)",
                    f"{r.get('marginal_kib_per_participant', '—')} KiB",
                    "",
                ),
            ],
        )
        print("\n".join("  " + line for line in r["table"]))
    print_json(
        "swarm",
        {
            "quick": quick,
            "results": [{k: v for k, v in r.items() if k != "table"} for r in results],
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run, for CI")
    main(parser.parse_args().quick)
