"""Print the events of one practice round, through gambiarra's public API.

    python examples/eventos_do_ensaio.py                      # the mock model
    python examples/eventos_do_ensaio.py --runner ollama --model qwen3:0.6b

A local practice arena starts, the client plays one round in it, and every
event of the session is printed as it happens: one line each, the answer's
text as it streams. A GUI, a web page or a notebook would render the same
events its own way.
"""

from __future__ import annotations

import argparse
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


async def show_events(runner: str, model: str | None) -> None:
    # The same options, and checks, as `gambiarra-client practice`.
    settings = gambiarra.make_settings("practice", runner=runner, model=model, mock_tps="0")
    async with gambiarra.Session(settings, practice=True, prompt="Conte até cinco.") as session:
        async for event in session:
            print(describe(event), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="Os eventos de uma rodada de ensaio.")
    parser.add_argument("--runner", default="mock", help="como em gambiarra-client --runner")
    parser.add_argument("--model", help="como em gambiarra-client --model")
    options = parser.parse_args()
    try:
        anyio.run(show_events, options.runner, options.model)
    except gambiarra.GambiarraError as error:  # a bad option, no model server...
        sys.exit(f"{error} (código {int(error.exit_code)})")


if __name__ == "__main__":
    main()
