"""relay: a fake model server → the real client → a counting arena, all on loopback.

For Ollama NDJSON and OpenAI SSE, in one run and against the same arena:

- the client's own CPU per token over one big round (read from /proc for the
  client process, from the challenge to the arena's receipt of ``complete``,
  so start-up is not counted), and tokens/s through it;
- the same CPU figure for the send-only baseline (``_send_only.py``: N
  pre-encoded token frames through websockets, one ``send()`` each), and the
  client's figure as a ratio to it: the machine's speed and load cancel out;
- the time to first token of every small round on one connection (instant
  model, warm connection), as the arena sees it (challenge broadcast → first
  token frame read) and as the client's own overhead: that, minus the fake
  model's own time from reading the request to writing the first token;
  and inside the client (the issue's measure: challenge received → first
  token written), that minus the send-only echo of the same run;
- correctness: every token, in order, once, and one complete.

Runs are interleaved (baseline, client, next dialect, next repetition) and
medians are printed, because the machine is shared and noisy.

    python benchmarks/relay.py                 # 5 × (20 000 tokens + 10 rounds of 100)
    python benchmarks/relay.py --quick         # what CI runs
    python benchmarks/relay.py --rounds-only   # the multi-round mode: TTFT per round
    python benchmarks/relay.py --client A --client B   # two builds, interleaved
    python benchmarks/relay.py --floor         # and the bare relay on the same libraries
    python benchmarks/relay.py --profile /tmp/prof   # py-spy on the big round (pip install py-spy)
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
from _common import CLIENT, FakeModelServer, cpu_seconds, median, print_json, print_table

from gambiarra.arena.records import RoundRecord
from gambiarra.arena.server import PracticeArena

HERE = Path(__file__).parent
RUNNERS = ("ollama", "lmstudio")
# --floor adds this "client": _floor_relay.py, the bare relay on the same libraries.
FLOOR = "piso (httpx + websockets, sem o cliente)"


@dataclass
class Options:
    clients: tuple[str, ...]
    runners: tuple[str, ...]
    repeat: int
    tokens: int  # of the big round; 0: no big round (the multi-round mode)
    rounds: int
    round_tokens: int
    profile: Path | None
    # Seconds between registration and the first round, and between rounds, as
    # at an event (minutes there): what the client does after a round (the
    # arena's record checked over HTTP) must not land on the next challenge.
    gap: float


@dataclass
class Figures:
    """Everything measured for one client and dialect, over every repetition."""

    client: str
    runner: str
    client_cpu_us: list[float] = field(default_factory=list)
    baseline_cpu_us: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    tokens_per_s: list[float] = field(default_factory=list)
    arena_ms: list[list[float]] = field(default_factory=list)  # [round][repetition]
    overhead_ms: list[list[float]] = field(default_factory=list)
    echo_ms: list[float] = field(default_factory=list)  # the send-only echo, every round
    # overhead minus the echo of the same repetition: [round][repetition]
    in_client_ms: list[list[float]] = field(default_factory=list)
    # Connections the client opened to the model server, and its generations.
    model_connections: int = 0
    generations: int = 0
    correct: bool = True
    complete_tokens: int | None = None


class Bench:
    def __init__(self, arena: PracticeArena, model: FakeModelServer, options: Options) -> None:
        self.arena = arena
        self.model = model
        self.options = options
        self.processes = 0  # each process plays under an id of its own

    def next_id(self, prefix: str) -> str:
        self.processes += 1
        return f"{prefix}-{self.processes}"

    def next_round_index(self) -> int:
        return 1 + sum(r.session_id == self.arena.session_id for r in self.arena.rounds)

    async def baseline(self, tokens: int) -> tuple[float, list[float]]:
        """CPU µs per token of the send-only baseline, and its echo times (ms) per round."""
        participant = self.next_id("baseline")
        rounds = self.options.rounds
        args = [
            sys.executable, str(HERE / "_send_only.py"), self.arena.url, self.arena.pin,
            participant, str(self.next_round_index()), str(tokens), str(rounds),
        ]  # fmt: skip
        echoes = []
        async with await anyio.open_process(
            args, stdout=subprocess.DEVNULL, stderr=None
        ) as process:
            await self.arena.wait_registered(participant)
            await anyio.sleep(self.options.gap)
            before = cpu_seconds(process.pid)
            record = await self.arena.start_round("baseline", max_tokens=tokens)
            await record.entry(participant).done.wait()
            after = cpu_seconds(process.pid)
            entry = record.entry(participant)
            assert len(entry.tokens) == tokens, "the baseline lost tokens"
            for _ in range(rounds):
                await anyio.sleep(self.options.gap)
                echo = await self.arena.start_round("echo", max_tokens=1)
                answer = echo.entry(participant)
                await answer.done.wait()
                assert answer.first_token_at is not None
                echoes.append((answer.first_token_at - echo.broadcast_at) * 1000)
            await process.wait()
        self.arena.stop_round()  # a client registering next must not join it
        return (after - before) / tokens * 1e6, echoes

    async def client(self, figures: Figures) -> None:
        """One client process: the small rounds, then (unless 0 tokens) the big one."""
        options, runner = self.options, figures.runner
        url_flag = "--ollama-url" if runner == "ollama" else "--lmstudio-url"
        big = 1 if options.tokens else 0
        participant = self.next_id("bench")
        command = (
            [sys.executable, str(HERE / "_floor_relay.py")]
            if figures.client == FLOOR
            else [figures.client]
        )
        args = [
            *command, "--url", self.arena.url, "--participant-id", participant,
            "--nickname", "Bench", "--runner", runner, "--model", "bench",
            url_flag, f"http://127.0.0.1:{self.model.port}", "--rounds", str(options.rounds + big),
        ]  # fmt: skip
        # the participant's own history is not for benchmark rounds
        env = {**os.environ, "GAMBIARRA_PIN": self.arena.pin, "GAMBIARRA_NO_HISTORY": "1"}
        connections, generations = self.model.connections, len(self.model.generations)
        process = await anyio.open_process(
            args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        async with process:
            try:
                await self.arena.wait_registered(participant)
                for index in range(options.rounds):
                    await anyio.sleep(options.gap)
                    arena_ms, overhead_ms = await self.small_round(participant, index)
                    while len(figures.arena_ms) <= index:
                        figures.arena_ms.append([])
                        figures.overhead_ms.append([])
                    figures.arena_ms[index].append(arena_ms)
                    figures.overhead_ms[index].append(overhead_ms)
                if big:
                    await anyio.sleep(options.gap)
                    await self.big_round(participant, process, figures)
                await process.wait()
            finally:
                if process.returncode is None:
                    process.kill()  # a failed measurement must not leave the client waiting
        self.arena.stop_round()
        figures.model_connections += self.model.connections - connections
        figures.generations += len(self.model.generations) - generations

    async def small_round(self, participant: str, index: int) -> tuple[float, float]:
        tokens = self.options.round_tokens
        asked = len(self.model.generations)
        record = await self.arena.start_round(f"ttft {index}", max_tokens=tokens)
        entry = record.entry(participant)
        await entry.done.wait()
        assert entry.first_token_at is not None, "a small round reached the arena without tokens"
        assert entry.tokens == [f" w{i}" for i in range(tokens)], "a small round lost tokens"
        arena_ms = (entry.first_token_at - record.broadcast_at) * 1000
        read_at, written_at = self.model.generations[asked]
        return arena_ms, arena_ms - (written_at - read_at) * 1000

    async def big_round(
        self, participant: str, process: anyio.abc.Process, figures: Figures
    ) -> None:
        tokens = self.options.tokens
        spy = self.start_profile(process.pid, figures)
        if spy is not None:
            await anyio.sleep(0.5)  # py-spy attaches
        before = cpu_seconds(process.pid)
        record: RoundRecord = await self.arena.start_round(
            "relay", max_tokens=tokens, deadline_ms=600_000
        )
        entry = record.entry(participant)
        await entry.done.wait()
        after = cpu_seconds(process.pid)
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            await anyio.to_thread.run_sync(spy.wait)
        assert entry.first_token_at is not None
        assert entry.complete_at is not None
        expected = [f" w{i}" for i in range(tokens)]
        figures.correct &= entry.tokens == expected and entry.completes == 1 and not entry.dropped
        figures.complete_tokens = entry.complete["tokens"] if entry.complete else None
        figures.client_cpu_us.append((after - before) / tokens * 1e6)
        figures.tokens_per_s.append(tokens / (entry.complete_at - entry.first_token_at))

    def start_profile(self, pid: int, figures: Figures) -> subprocess.Popen[bytes] | None:
        if self.options.profile is None:
            return None
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self.options.profile.mkdir(parents=True, exist_ok=True)
        clients = self.options.clients
        which = f"-{clients.index(figures.client) + 1}" if len(clients) > 1 else ""
        out = self.options.profile / f"{figures.runner}{which}.txt"
        return subprocess.Popen(
            [spy, "record", "--pid", str(pid), "--rate", "2000", "--nonblocking",
             "--format", "raw", "--output", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip


async def measure(options: Options) -> list[Figures]:
    results = {
        (client, runner): Figures(client, runner)
        for runner in options.runners
        for client in options.clients
    }
    model = FakeModelServer()
    async with anyio.create_task_group() as tg:
        await tg.start(model.serve)
        async with PracticeArena(pin="1") as arena:
            bench = Bench(arena, model, options)
            for _ in range(options.repeat):
                for runner in options.runners:
                    baseline, echoes = await bench.baseline(options.tokens or 1)
                    for client in options.clients:
                        figures = results[client, runner]
                        await bench.client(figures)
                        figures.echo_ms += echoes
                        # Paired with the echo measured just before, in this repetition.
                        echo = median(echoes)
                        for index, overheads in enumerate(figures.overhead_ms):
                            while len(figures.in_client_ms) <= index:
                                figures.in_client_ms.append([])
                            figures.in_client_ms[index].append(overheads[-1] - echo)
                        if options.tokens:
                            figures.baseline_cpu_us.append(baseline)
                            figures.ratios.append(figures.client_cpu_us[-1] / baseline)
        tg.cancel_scope.cancel()
    return list(results.values())


def summary(figures: Figures, options: Options) -> dict[str, Any]:
    # The measure: challenge received → first token written, inside the
    # client. The send-only echo (same repetition) is everything outside it: the
    # arena, two loopback hops and websockets reading and writing a frame on each side.
    echo = median(figures.echo_ms)
    per_round = [
        {
            "round": i + 1,
            "arena_ms": round(median(a), 3),
            "overhead_ms": round(median(o), 3),
            "in_client_ms": round(median(c), 3),
        }
        for i, (a, o, c) in enumerate(
            zip(figures.arena_ms, figures.overhead_ms, figures.in_client_ms, strict=True)
        )
    ]
    every_in_client = [v for values in figures.in_client_ms for v in values]
    every_arena = [v for values in figures.arena_ms for v in values]
    every_overhead = [v for values in figures.overhead_ms for v in values]
    done: dict[str, Any] = {
        "client": figures.client,
        "runner": figures.runner,
        "repeat": options.repeat,
        "rounds": options.rounds,
        "round_tokens": options.round_tokens,
        "challenge_to_first_token_ms_median": round(median(every_arena), 3),
        "first_token_overhead_ms_median": round(median(every_overhead), 3),
        "first_token_overhead_ms_worst_round": max(
            (r["overhead_ms"] for r in per_round), default=0
        ),
        "send_only_echo_ms_median": round(echo, 3),
        "first_token_in_client_ms_median": round(median(every_in_client), 3),
        "first_token_in_client_ms_worst_round": max(
            (r["in_client_ms"] for r in per_round), default=0
        ),
        "model_connections_per_generation": round(
            figures.model_connections / max(1, figures.generations), 2
        ),
        "per_round": per_round,
        "correct": figures.correct,
    }
    if options.tokens:
        done |= {
            "tokens": options.tokens,
            "tokens_per_s": round(median(figures.tokens_per_s)),
            "client_cpu_us_per_token": round(median(figures.client_cpu_us), 2),
            "baseline_cpu_us_per_token": round(median(figures.baseline_cpu_us), 2),
            "cpu_ratio_to_baseline": round(median(figures.ratios), 2),
            "client_cpu_us_runs": [round(v, 2) for v in figures.client_cpu_us],
            "baseline_cpu_us_runs": [round(v, 2) for v in figures.baseline_cpu_us],
            "complete_tokens": figures.complete_tokens,
        }
    return done


def print_figures(results: list[dict[str, Any]], options: Options) -> None:
    runs = f"mediana de {options.repeat}"
    chosen = os.environ.get("GAMBIARRA_MODEL_HTTP", "").strip().lower()
    print(
        "transporte do modelo: "
        + (
            "o do próprio httpx (GAMBIARRA_MODEL_HTTP=httpx)"
            if chosen == "httpx"
            else "o padrão de cada cliente (aiohttp por baixo do httpx, se instalado)"
        )
    )
    if options.repeat == 1:
        print("uma repetição só: números indicativos (a máquina é barulhenta), não para os alvos")
    for r in results:
        rows = []
        if options.tokens:
            rows += [
                ("tokens/s pelo cliente", f"{r['tokens_per_s']}", ""),
                ("CPU do cliente por token", f"{r['client_cpu_us_per_token']} µs", "≤ 8.5 µs"),
                ("CPU do envio puro por token", f"{r['baseline_cpu_us_per_token']} µs", ""),
                ("razão cliente / envio puro", f"{r['cpu_ratio_to_baseline']}", "≤ 2.0"),
            ]
        rows += [
            ("desafio → 1º token na arena", f"{r['challenge_to_first_token_ms_median']} ms", ""),
            ("sobrecarga do cliente no 1º token",
             f"{r['first_token_overhead_ms_median']} ms", ""),
            ("  piso: eco do envio puro", f"{r['send_only_echo_ms_median']} ms", ""),
            ("  dentro do cliente (sobrecarga − eco)",
             f"{r['first_token_in_client_ms_median']} ms", "≤ 1 ms"),
            ("  na pior rodada (mediana)", f"{r['first_token_in_client_ms_worst_round']} ms",
             "≤ 1 ms"),
            ("conexões ao modelo por geração", f"{r['model_connections_per_generation']}", "→ 0"),
            ("todos, em ordem, uma vez", "sim" if r["correct"] else "NÃO", "sim"),
        ]  # fmt: skip
        big = f"{options.tokens} tokens + " if options.tokens else ""
        which = f"{r['client']}: " if len(options.clients) > 1 else ""
        print_table(
            f"relay — {which}{r['runner']} ({big}{options.rounds} rodadas de "
            f"{options.round_tokens}; {runs})",
            rows,
        )
    print(
        "\n1º token por rodada numa conexão (na arena / sobrecarga do cliente / dentro do"
        f" cliente, ms; {runs})"
    )
    for i, r in enumerate(results):
        if len(options.clients) > 1:
            print(f"  [{i + 1}] {r['client']}")
    heads = [
        f"[{i + 1}] {r['runner']}" if len(options.clients) > 1 else r["runner"]
        for i, r in enumerate(results)
    ]
    print("  rodada  " + "  ".join(f"{h:>26}" for h in heads))
    for i in range(options.rounds):
        cells = [
            f"{r['per_round'][i]['arena_ms']:>6.3f} / {r['per_round'][i]['overhead_ms']:>6.3f}"
            f" / {r['per_round'][i]['in_client_ms']:>6.3f}"
            for r in results
        ]
        print(f"  {i + 1:>6}  " + "  ".join(f"{c:>26}" for c in cells))


def print_profile(directory: Path, top: int = 25) -> None:
    """The top functions by own samples, and the top modules, of each py-spy profile."""
    for path in sorted(directory.glob("*.txt")):
        own: Counter[str] = Counter()
        modules: Counter[str] = Counter()
        total = 0
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack:
                continue
            samples = int(count)
            total += samples
            leaf = stack.rsplit(";", 1)[-1]
            own[leaf] += samples
            where = leaf.rpartition("(")[2].split(":")[0]
            modules[_module(where)] += samples
        print(f"\nperfil {path.stem}: {total} amostras; as funções mais caras (tempo próprio)")
        for name, samples in own.most_common(top):
            print(f"  {samples / total:6.1%}  {name}")
        print("  por pacote:")
        for name, samples in modules.most_common(12):
            print(f"  {samples / total:6.1%}  {name}")


def _module(path: str) -> str:
    parts = Path(path).parts
    for anchor in ("site-packages", "src"):
        if anchor in parts:
            rest = parts[parts.index(anchor) + 1 :]
            return "/".join(rest[:2]) if rest and rest[0] == "gambiarra" else rest[0]
    return "python" if "python3" in path else path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run, for CI")
    parser.add_argument("--rounds-only", action="store_true",
                        help="only the small rounds: time to first token per round")  # fmt: skip
    parser.add_argument(
        "--client",
        action="append",
        help="a gambiarra-client to measure (repeat it to compare builds in one run)",
    )
    parser.add_argument("--runners", default=",".join(RUNNERS))
    parser.add_argument("--repeat", type=int, help="interleaved repetitions (default 5)")
    parser.add_argument("--tokens", type=int, help="tokens of the big round (default 20 000)")
    parser.add_argument("--rounds", type=int, help="small rounds per connection (default 10)")
    parser.add_argument("--round-tokens", type=int, help="tokens per small round (default 100)")
    parser.add_argument("--profile", type=Path, help="write py-spy profiles of the big round here")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also measure _floor_relay.py: the bare relay on the same libraries",
    )
    parser.add_argument(
        "--gap", type=float, default=0.25, help="seconds before each round (default 0.25)"
    )
    args = parser.parse_args()
    quick = args.quick
    options = Options(
        clients=(*(args.client or [CLIENT]), *([FLOOR] if args.floor else [])),
        runners=tuple(args.runners.split(",")),
        repeat=args.repeat or (1 if quick else 5),
        tokens=0 if args.rounds_only else (args.tokens or (2_000 if quick else 20_000)),
        rounds=args.rounds or (3 if quick else 10),
        round_tokens=args.round_tokens or (20 if quick else 100),
        profile=args.profile,
        gap=args.gap,
    )
    results = [summary(f, options) for f in anyio.run(measure, options)]
    print_figures(results, options)
    if options.profile is not None:
        print_profile(options.profile)
    print_json("relay", {"quick": quick, "results": results})


if __name__ == "__main__":
    main()
