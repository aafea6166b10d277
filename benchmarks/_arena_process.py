"""A practice arena in a process of its own, playing the organiser for the swarm benchmark.

Prints its URL, waits for N participants, runs K rounds of M tokens each
(every participant must complete), stays up until they have left, then
prints what it received as JSON.
"""

from __future__ import annotations

import json
import sys

import anyio

from gambiarra.arena.server import PracticeArena


async def main(count: int, rounds: int, tokens: int, budget: float) -> None:
    async with PracticeArena(pin="1") as arena:
        print(arena.url, flush=True)
        results = []
        with anyio.move_on_after(budget):
            await arena.wait_for(lambda: len(arena.registrations) >= count)
            for _ in range(rounds):
                record = await arena.start_round("Conte uma história", max_tokens=tokens)
                entries = list(record.entries.values())
                await arena.wait_for(lambda entries=entries: all(e.done.is_set() for e in entries))
                results.append(
                    {
                        "participants": len(record.entries),
                        "completes": sum(e.completes for e in record.entries.values()),
                        "tokens_received": sum(len(e.tokens) for e in record.entries.values()),
                        "tokens_claimed": sum(
                            e.complete["tokens"] for e in record.entries.values() if e.complete
                        ),
                        "dropped": sum(e.dropped for e in record.entries.values()),
                    }
                )
        # A real arena stays up after a round: the participants' last confirmations
        # (a ping after their complete) are answered before it goes.
        with anyio.move_on_after(15):
            await arena.wait_for(
                lambda: (
                    not any(arena.is_connected(r["participant_id"]) for r in arena.registrations)
                )
            )
        print(json.dumps({"registered": len(arena.registrations), "rounds": results}), flush=True)


if __name__ == "__main__":
    anyio.run(main, *(int(a) for a in sys.argv[1:4]), float(sys.argv[4]))
