"""Model servers for the warm-up, keep-alive and capability tests, served by respx.

``ollama_up`` and ``lmstudio_up`` answer the startup requests from the wire
samples. ``FakeOllama`` has state: it loads a model slowly, unloads it when
idle, and honours ``keep_alive`` the way Ollama does (shared/wire/README.md):
the expiry is set after each request, from its ``keep_alive`` (negative: for
ever, 0: unload now) or, when the request has none, from the server's
default. Idle time is virtual (``idle(seconds)``), so no test waits for it;
the load itself is a short real ``anyio.sleep``, the model's own behaviour.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import anyio
import httpx
import respx

from tests.conftest import wire

PIECES = ["Era", " uma", " vez"]


def ollama_up(mock: respx.MockRouter, show: str = "ollama-show.json") -> None:
    """An Ollama with the sample models, as the startup check asks it: ``/api/tags``,
    and ``/api/show`` (the ``show`` sample for every model)."""
    mock.get("/api/tags").respond(200, content=wire("ollama-tags.json"))
    mock.post("/api/show").respond(200, content=wire(show))


def lmstudio_up(mock: respx.MockRouter) -> None:
    mock.get("/v1/models").respond(200, content=wire("openai-models.json"))
    mock.get("/api/v0/models").respond(200, content=wire("lmstudio-api-v0-models.json"))


class FakeOllama:
    """One model on an Ollama that loads slowly and unloads it when idle.

    Args:
        model: the one installed model.
        load_s: real seconds a load takes.
        default_keep_alive: the server's expiry (virtual seconds) for a request
            without ``keep_alive``.
        gpu_share: the share of the loaded model in GPU memory, for ``/api/ps``.
    """

    def __init__(
        self,
        model: str = "llama3.1:8b",
        load_s: float = 0.3,
        default_keep_alive: float = 4.0,
        gpu_share: float = 1.0,
    ) -> None:
        self.model = model
        self.load_s = load_s
        self.default_keep_alive = default_keep_alive
        self.gpu_share = gpu_share
        self.now = 0.0  # virtual seconds
        self.expires_at: float | None = None  # None: not loaded
        self.loads = 0
        self.bodies: list[dict[str, Any]] = []

    @property
    def loaded(self) -> bool:
        return self.expires_at is not None

    def idle(self, seconds: float) -> None:
        """Let ``seconds`` of idle time pass; an expired model is unloaded."""
        self.now += seconds
        self._expire()

    def load(self, keep_alive: float = -1) -> None:
        """The participant loaded the model before the client started."""
        self.expires_at = self._expiry(keep_alive)

    def install(self, mock: respx.MockRouter) -> None:
        mock.get("/api/tags").respond(
            200, json={"models": [{"name": self.model, "size": 1000, "details": {}}]}
        )
        mock.post("/api/show").respond(200, content=wire("ollama-show.json"))
        mock.get("/api/ps").mock(side_effect=self.ps)
        mock.post("/api/generate").mock(side_effect=self.generate)

    def generation_bodies(self) -> list[dict[str, Any]]:
        """The requests that generated text (not the load-only ones)."""
        return [b for b in self.bodies if b.get("prompt")]

    # ------------------------------------------------------------ routes

    def ps(self, request: httpx.Request) -> httpx.Response:
        self._expire()
        if not self.loaded:
            return httpx.Response(200, json={"models": []})
        assert self.expires_at is not None
        year = 2318 if math.isinf(self.expires_at) else 2026
        size = 4_000_000_000
        entry = {
            "name": self.model,
            "model": self.model,
            "size": size,
            "size_vram": round(size * self.gpu_share),
            "expires_at": f"{year}-11-25T18:25:04.118212944-03:00",
        }
        return httpx.Response(200, json={"models": [entry]})

    async def generate(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        self._expire()
        load_ns = 0
        if not self.loaded:
            started = time.monotonic()
            await anyio.sleep(self.load_s)  # the model loading, not a test wait
            load_ns = round((time.monotonic() - started) * 1e9)
            self.loads += 1
        keep_alive = body.get("keep_alive")
        self.expires_at = self._expiry(keep_alive)
        if not body.get("prompt"):  # an empty prompt only loads (or unloads)
            reason = "unload" if keep_alive == 0 else "load"
            if keep_alive == 0:
                self.expires_at = None
            line = {"model": self.model, "response": "", "done": True, "done_reason": reason}
            return httpx.Response(200, json=line)
        lines = [{"model": self.model, "response": p, "done": False} for p in PIECES]
        lines.append(
            {
                "model": self.model,
                "response": "",
                "done": True,
                "done_reason": "stop",
                "load_duration": load_ns,
                "prompt_eval_count": 9,
                "prompt_eval_duration": 41_000_000,
                "eval_count": len(PIECES),
                "eval_duration": 62_000_000,
            }
        )
        ndjson = "".join(json.dumps(line) + "\n" for line in lines).encode()
        return httpx.Response(200, headers={"content-type": "application/x-ndjson"}, content=ndjson)

    def _expiry(self, keep_alive: Any) -> float:
        if keep_alive is None:
            return self.now + self.default_keep_alive
        seconds = float(keep_alive)
        return math.inf if seconds < 0 else self.now + seconds

    def _expire(self) -> None:
        if self.expires_at is not None and self.expires_at <= self.now:
            self.expires_at = None
