"""relay: a fake model server → the real client → a counting arena, all on loopback.

Measures, for Ollama NDJSON and OpenAI SSE: tokens/s through the client, the
client's own CPU time per token (read from /proc for the client process,
from registration to the end of the round, so start-up is not counted), the
median time from the challenge frame to the first token frame at the arena
with an instant model, and correctness (every token, in order, once).

    python benchmarks/relay.py            # 20 000 tokens, 30 first-token rounds
    python benchmarks/relay.py --quick    # what CI runs
"""

from __future__ import annotations

import argparse
import os
import subprocess
from typing import Any

import anyio
import anyio.abc
from _common import CLIENT, FakeModelServer, cpu_seconds, median, print_json, print_table

from gambiarra.arena.server import PracticeArena


async def relay(runner: str, tokens: int, ttft_rounds: int) -> dict[str, Any]:
    model = FakeModelServer()
    async with anyio.create_task_group() as tg:
        port = await tg.start(model.serve)
        async with PracticeArena(pin="1") as arena:
            url_flag = "--ollama-url" if runner == "ollama" else "--lmstudio-url"
            args = [
                CLIENT, "--url", arena.url, "--participant-id", "bench", "--nickname", "Bench",
                "--runner", runner, "--model", "bench", url_flag, f"http://127.0.0.1:{port}",
                "--rounds", str(1 + ttft_rounds),
            ]  # fmt: skip
            env = {**os.environ, "GAMBIARRA_PIN": "1"}
            process = await anyio.open_process(
                args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            async with process:
                try:
                    figures = await measure(arena, process, tokens, ttft_rounds)
                finally:
                    if process.returncode is None:
                        process.kill()  # a failed measurement must not leave the client waiting
        tg.cancel_scope.cancel()
    return {"runner": runner, "tokens": tokens, **figures}


async def measure(
    arena: PracticeArena, process: anyio.abc.Process, tokens: int, ttft_rounds: int
) -> dict[str, Any]:
    """One big round for throughput and CPU, then small ones for the first token."""
    await arena.wait_registered("bench")
    before = cpu_seconds(process.pid)
    record = await arena.start_round("relay", max_tokens=tokens, deadline_ms=600_000)
    entry = record.entry("bench")
    await entry.done.wait()
    after = cpu_seconds(process.pid)
    firsts = []
    for _ in range(ttft_rounds):
        small = await arena.start_round("ttft", max_tokens=8, deadline_ms=60_000)
        await small.entry("bench").done.wait()
        first = small.entry("bench").first_token_at
        assert first is not None, "a small round reached the arena without tokens"
        firsts.append((first - small.broadcast_at) * 1000)
    await process.wait()
    assert entry.first_token_at is not None
    assert entry.complete_at is not None
    expected = [f" w{i}" for i in range(tokens)]
    return {
        "tokens_per_s": round(tokens / (entry.complete_at - entry.first_token_at)),
        "client_cpu_us_per_token": round((after - before) / tokens * 1e6, 2),
        "challenge_to_first_token_ms_median": round(median(firsts), 3),
        "correct": entry.tokens == expected and entry.completes == 1 and entry.dropped == 0,
        "complete_tokens": entry.complete["tokens"] if entry.complete else None,
    }


async def main(quick: bool) -> None:
    tokens, rounds = (2_000, 5) if quick else (20_000, 30)
    results = [await relay(runner, tokens, rounds) for runner in ("ollama", "lmstudio")]
    for r in results:
        print_table(
            f"relay — {r['runner']} ({r['tokens']} tokens)",
            [
                ("tokens/s pelo cliente", f"{r['tokens_per_s']}", ""),
                ("CPU do cliente por token", f"{r['client_cpu_us_per_token']} µs", "≤ 7 µs"),
                ("desafio → 1º token (mediana)",
                 f"{r['challenge_to_first_token_ms_median']} ms", "≤ 1.5 ms"),
                ("todos, em ordem, uma vez", "sim" if r["correct"] else "NÃO", "sim"),
            ],
        )  # fmt: skip
    print_json("relay", {"quick": quick, "results": results})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run, for CI")
    anyio.run(main, parser.parse_args().quick)
