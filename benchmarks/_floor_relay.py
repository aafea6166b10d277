"""The floor of a relay built on the client's own libraries, for ``relay.py --floor``.

httpx reads the model's body (``aiter_raw``) through the client's own
transport (``model_transport()``: aiohttp's), lines are split and decoded
with msgspec, each token becomes its own frame, and the frames ready at the
end of each event-loop step go out through websockets' framing in one write.
Nothing else: no round rules, no outbox, no reconnects, no screen. What the
real client costs above this is the price of everything it does besides.

Takes the client's own options (those ``relay.py`` passes) and GAMBIARRA_PIN.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

import httpx
import msgspec
from websockets.asyncio.client import ClientConnection, connect

from gambiarra.adapters.model_transport import model_transport


class _Line(msgspec.Struct):
    response: str = ""


class _Choice(msgspec.Struct):
    text: str | None = None


class _Event(msgspec.Struct):
    choices: list[_Choice] = []


class _Token(msgspec.Struct, tag="token", tag_field="type"):
    round: int
    participant_id: str
    seq: int
    content: str


_encode = msgspec.json.Encoder().encode
_line = msgspec.json.Decoder(_Line).decode
_event = msgspec.json.Decoder(_Event).decode


class Frames:
    """Frames queued during one event-loop step, written together at its end."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.pending: list[bytes] = []

    def add(self, frame: bytes) -> None:
        if not self.pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self.pending.append(frame)

    def flush(self) -> None:
        if self.pending:
            for frame in self.pending:
                self.ws.protocol.send_text(frame)
            self.ws.transport.write(b"".join(self.ws.protocol.data_to_send()))
            self.pending.clear()


async def relay(
    http: httpx.AsyncClient, frames: Frames, me: str, challenge: Any, ollama: bool
) -> int:
    if ollama:
        path = "/api/generate"
        body = {"model": "bench", "prompt": challenge["prompt"], "stream": True,
                "options": {"num_predict": challenge["max_tokens"]}}  # fmt: skip
    else:
        path = "/v1/completions"
        body = {"model": "bench", "prompt": challenge["prompt"], "stream": True,
                "max_tokens": challenge["max_tokens"]}  # fmt: skip
    seq, rest = 0, b""
    headers = {"content-type": "application/json"}
    async with http.stream("POST", path, content=_encode(body), headers=headers) as response:
        async for chunk in response.aiter_raw():
            *lines, rest = (rest + chunk).split(b"\n")
            for line in lines:
                if ollama:
                    text = _line(line).response if line else ""
                elif line.startswith(b"data: {"):
                    choices = _event(line[6:]).choices
                    text = (choices[0].text or "") if choices else ""
                else:
                    continue
                if text:
                    frames.add(_encode(_Token(challenge["round"], me, seq, text)))
                    seq += 1
    frames.flush()
    return seq


async def main(args: argparse.Namespace) -> None:
    me = args.participant_id
    base = args.ollama_url or args.lmstudio_url
    async with (
        httpx.AsyncClient(base_url=base, timeout=300.0, transport=model_transport()) as http,
        connect(args.url, compression=None) as ws,
    ):
        register = {
            "type": "register", "participant_id": me, "nickname": "Piso",
            "pin": os.environ["GAMBIARRA_PIN"], "runner": args.runner, "model": "bench",
        }  # fmt: skip
        await ws.send(_encode(register), text=True)
        frames = Frames(ws)
        for _ in range(args.rounds):
            async for raw in ws:
                challenge = msgspec.json.decode(raw)
                if challenge.get("type") == "challenge":
                    break
            tokens = await relay(http, frames, me, challenge, args.ollama_url is not None)
            complete = {"type": "complete", "round": challenge["round"], "participant_id": me,
                        "tokens": tokens, "duration_ms": 1,
                        "model_info": {"name": "bench", "runner": args.runner}}  # fmt: skip
            await ws.send(_encode(complete), text=True)
        await (await ws.ping())  # everything arrived


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for flag in ("--url", "--participant-id", "--nickname", "--runner", "--model"):
        parser.add_argument(flag)
    parser.add_argument("--ollama-url")
    parser.add_argument("--lmstudio-url")
    parser.add_argument("--rounds", type=int, default=1)
    asyncio.run(main(parser.parse_args()))
