"""Print the events of one practice round, through gambiarra's public API.

    python examples/eventos_do_ensaio.py                      # the mock model
    python examples/eventos_do_ensaio.py --runner ollama --model qwen3:0.6b

A local practice arena starts, the client plays one round in it, and every
event of the session is printed as it happens: one line each, the answer's
text as it streams. A GUI, a web page or a notebook would render the same
events its own way.
"""

from __future__ import annotations

import sys

import anyio

import gambiarra


def describe(event: gambiarra.SessionEvent) -> str:
    """One line per event: its kind, then what it carries."""
    match event:
        case gambiarra.Tokens(text=text):
            return f"tokens        {text!r}"
        case gambiarra.RoundEnded():
            return (
                f"round_ended   rodada {event.round}: {event.outcome.value}, {event.tokens} tokens"
                f", 1º token em {event.first_token_ms} ms"
            )
        case gambiarra.RoundStarted(round=number, prompt=prompt):
            return f"round_started rodada {number}: {prompt}"
        case gambiarra.SessionEnded(exit_code=code):
            return f"session_ended código {code}"
    return type(event).__name__


async def main(argv: list[str]) -> None:
    options = dict(zip(argv[0::2], argv[1::2]))
    settings = gambiarra.make_settings(
        "practice",
        runner=options.get("--runner", "mock"),
        model=options.get("--model"),
        mock_tps="0",  # the mock model as fast as it goes
    )
    async with gambiarra.Session(settings, practice=True, prompt="Conte até cinco.") as session:
        async for event in session:
            print(describe(event), flush=True)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1:])
