"""The example plugin: what it asks Ollama, what it yields, how it fails (respx, no Ollama)."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import httpx
import pytest
import respx
from gambiarra_contexto import CONTEXTO, SISTEMA, contexto

from gambiarra import RunnerRequest, TokenChunk

URL = "http://ollama.teste"
CHAT = (
    b'{"message":{"role":"assistant","content":"","thinking":"hmm"},"done":false}\n'
    b'{"message":{"role":"assistant","content":"Ol\xc3\xa1"},"done":false}\n'
    b'{"message":{"role":"assistant","content":", arena"},"done":false}\n'
    b'{"message":{"role":"assistant","content":""},"done":true,"eval_count":2}\n'
)


def request(**changes: object) -> RunnerRequest:
    fields: dict[str, object] = {
        "round": 1, "prompt": "Um haicai", "max_tokens": 40, "temperature": 0.0,
        "model": "qwen3:0.6b", "seed": 7, "system": "Seja breve.",
    }  # fmt: skip
    fields.update(changes)
    return RunnerRequest(**fields)  # type: ignore[arg-type]


async def collect(asked: RunnerRequest) -> list[str | TokenChunk]:
    with anyio.fail_after(5):
        return [piece async for piece in contexto(asked)]


@pytest.fixture(autouse=True)
def ollama_at(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTEXTO_OLLAMA_URL", URL)
    monkeypatch.delenv("CONTEXTO_SISTEMA", raising=False)
    monkeypatch.delenv("CONTEXTO_ARQUIVO", raising=False)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_the_system_prompt_and_the_context_go_before_the_challenge() -> None:
    with respx.mock(base_url=URL) as ollama:
        chat = ollama.post("/api/chat").respond(200, content=CHAT)
        pieces = await collect(request())
    assert pieces == [TokenChunk("hmm", reasoning=True), "Olá", ", arena"]
    body = json.loads(chat.calls.last.request.content)
    assert body["model"] == "qwen3:0.6b"
    assert body["messages"] == [
        {"role": "system", "content": SISTEMA + "\n\nSeja breve."},
        {"role": "user", "content": CONTEXTO + "\n\nDesafio: Um haicai"},
    ]
    assert body["options"] == {"num_predict": 40, "temperature": 0.0, "seed": 7}
    assert body["stream"] is True


@pytest.mark.anyio
async def test_a_context_file_replaces_the_default_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = tmp_path / "contexto.txt"
    notes.write_text("Fale como um técnico de bancada.\n", encoding="utf-8")
    monkeypatch.setenv("CONTEXTO_ARQUIVO", str(notes))
    with respx.mock(base_url=URL) as ollama:
        chat = ollama.post("/api/chat").respond(200, content=CHAT)
        await collect(request(seed=None, system=None))
    body = json.loads(chat.calls.last.request.content)
    assert body["messages"][0]["content"] == SISTEMA
    context, challenge = body["messages"][1]["content"].split("\n\n")
    assert (context, challenge) == ("Fale como um técnico de bancada.", "Desafio: Um haicai")
    assert "seed" not in body["options"]


@pytest.mark.anyio
async def test_ollamas_errors_are_raised_with_its_message() -> None:
    with respx.mock(base_url=URL) as ollama:
        ollama.post("/api/chat").respond(404, json={"error": "model 'x' not found"})
        with pytest.raises(RuntimeError, match=r"404: .*model 'x' not found"):
            await collect(request())
    midstream = b'{"message":{"content":"Era"}}\n{"error":"out of memory"}\n'
    with respx.mock(base_url=URL) as ollama:
        ollama.post("/api/chat").respond(200, content=midstream)
        with pytest.raises(RuntimeError, match="o Ollama avisou: out of memory"):
            await collect(request())


@pytest.mark.anyio
async def test_closing_the_generator_closes_the_stream() -> None:
    """The client closes the generator at a deadline; the HTTP stream goes with it."""
    closed = anyio.Event()

    class Endless(httpx.AsyncByteStream):
        async def __aiter__(self):  # type: ignore[no-untyped-def]
            while True:
                yield b'{"message":{"content":"x"}}\n'

        async def aclose(self) -> None:
            closed.set()

    with respx.mock(base_url=URL) as ollama:
        ollama.post("/api/chat").respond(200, stream=Endless())
        pieces = contexto(request())
        with anyio.fail_after(5):
            assert await anext(pieces) == "x"
            await pieces.aclose()  # type: ignore[attr-defined]
            await closed.wait()
