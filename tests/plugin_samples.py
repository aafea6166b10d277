"""Runner plugins for the tests, written as a participant writes one.

Named on the command line as ``tests.plugin_samples:eco`` (with the checkout
on ``PYTHONPATH``), or handed to ``gambiarra.play(runner=...)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from gambiarra import RunnerRequest, TokenChunk


async def eco(request: RunnerRequest) -> AsyncIterator[str | TokenChunk]:
    """Says the model's name, thinks a little, then repeats the challenge word by word."""
    yield f"[{request.model}]"
    yield TokenChunk("ecoando", reasoning=True)
    for word in request.prompt.split(" "):
        yield " " + word


def expected_echo(model: str, prompt: str) -> str:
    """What ``eco`` sends the arena, worked out apart from it."""
    return f"[{model}] {prompt}"


async def quebrado(request: RunnerRequest) -> AsyncIterator[str]:
    """Starts an answer, then fails the way a pipeline does."""
    yield "meio"
    raise ValueError("sem contexto para responder")


async def sem_fim(request: RunnerRequest) -> AsyncIterator[str]:
    """Never stops, never awaits: only the client's limits end it."""
    while True:
        yield "x"


async def corrotina(request: RunnerRequest) -> str:
    """A common mistake: a coroutine that returns the text, not a generator."""
    return "tudo de uma vez"


NAO_E_FUNCAO = 42
