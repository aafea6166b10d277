"""The send-only baseline: N pre-encoded token frames through websockets, nothing else.

Run by ``relay.py`` against the same arena as the client, in the same run:
connects, registers, encodes every frame of the round it is told to expect,
then on the challenge sends them one ``send()`` each (as fast as websockets
goes) and a ``complete``. No model, no HTTP, no state machine: the floor any
Python relay built on websockets stands on.

Then, for each of the next ECHOES challenges, it answers at once with one
token and a ``complete``: the floor of the time to first token (the arena's
own sending and reading, two loopback hops, websockets on both sides).

    python _send_only.py WS_URL PIN PARTICIPANT_ID ROUND TOKENS ECHOES
"""

from __future__ import annotations

import asyncio
import json
import sys

from websockets.asyncio.client import connect


async def main(
    url: str, pin: str, participant_id: str, round_: int, tokens: int, echoes: int
) -> None:
    async with connect(url, compression=None, max_size=2**20) as ws:
        register = {
            "type": "register", "participant_id": participant_id, "nickname": "Base",
            "pin": pin, "runner": "baseline", "model": "none",
        }  # fmt: skip
        await ws.send(json.dumps(register))
        frames = [
            json.dumps(
                {"type": "token", "round": round_, "participant_id": participant_id, "seq": i,
                 "content": f" w{i}"},
                separators=(",", ":"),
            ).encode()
            for i in range(tokens)
        ]  # fmt: skip
        complete = json.dumps(
            {
                "type": "complete", "round": round_, "participant_id": participant_id,
                "tokens": tokens, "duration_ms": 1, "latency_ms_first_token": 0,
                "model_info": {"name": "none", "runner": "baseline"},
            }
        )  # fmt: skip
        async for raw in ws:
            message = json.loads(raw)
            if message.get("type") == "challenge" and message.get("round") == round_:
                break
        for frame in frames:
            await ws.send(frame, text=True)
        await ws.send(complete)
        for _ in range(echoes):
            async for raw in ws:
                message = json.loads(raw)
                if message.get("type") == "challenge":
                    break
            echo = {"round": message["round"], "participant_id": participant_id}
            await ws.send(json.dumps({"type": "token", **echo, "seq": 0, "content": " w0"}))
            await ws.send(
                json.dumps(
                    {"type": "complete", **echo, "tokens": 1, "duration_ms": 0,
                     "latency_ms_first_token": 0,
                     "model_info": {"name": "none", "runner": "baseline"}}
                )
            )  # fmt: skip
        # The arena reads a link's frames in order: its pong means all arrived.
        await (await ws.ping())


if __name__ == "__main__":
    url, pin, participant_id, round_, tokens, echoes = sys.argv[1:7]
    asyncio.run(main(url, pin, participant_id, int(round_), int(tokens), int(echoes)))
