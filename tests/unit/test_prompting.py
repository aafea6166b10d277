"""Prompt wrapping: the template, the system prompt, and where each API puts them."""

from __future__ import annotations

import httpx

from gambiarra.adapters.llamacpp import LlamaCppRunner
from gambiarra.adapters.ollama import OllamaRunner
from gambiarra.adapters.openai_compat import OpenAICompatRunner
from gambiarra.domain.events import ChallengeReceived, GenerationRequest, StartGeneration
from gambiarra.domain.prompting import PromptStyle, apply_template, with_system
from gambiarra.domain.protocol import Challenge, ModelInfo
from gambiarra.domain.round import RoundMachine

HTTP = httpx.AsyncClient(base_url="http://model.test")
REQUEST = GenerationRequest(1, "P?", 10, 0.0, system="Seja breve.")


def test_template_puts_the_prompt_in_place_and_keeps_other_braces() -> None:
    template = 'Responda em JSON {"r": ...}.\nPergunta: {prompt}\nFim.'
    assert apply_template(template, "2+2?") == 'Responda em JSON {"r": ...}.\nPergunta: 2+2?\nFim.'
    assert apply_template(None, "2+2?") == "2+2?"


def test_system_is_prepended_only_when_there_is_one() -> None:
    assert with_system("Seja breve.", "P?") == "Seja breve.\n\nP?"
    assert with_system(None, "P?") == "P?"


def test_the_round_machine_applies_the_participants_style() -> None:
    machine = RoundMachine(
        "p", ModelInfo(name="m", runner="r"), style=PromptStyle("Sys", "<<{prompt}>>")
    )
    (start,) = machine.handle(ChallengeReceived(Challenge(round=1, prompt="oi"), at=0.0))
    assert isinstance(start, StartGeneration)
    assert (start.request.prompt, start.request.system) == ("<<oi>>", "Sys")


def test_apis_with_a_system_message_use_it() -> None:
    assert OllamaRunner(HTTP, "m").body(REQUEST)["system"] == "Seja breve."
    assert OllamaRunner(HTTP, "m", api="chat").body(REQUEST)["messages"] == [
        {"role": "system", "content": "Seja breve."},
        {"role": "user", "content": "P?"},
    ]
    chat = OpenAICompatRunner(HTTP, "m", kind="openai", api="chat").body(REQUEST)
    assert chat["messages"][0] == {"role": "system", "content": "Seja breve."}


def test_apis_without_one_get_it_prepended() -> None:
    completions = OpenAICompatRunner(HTTP, "m").body(REQUEST)
    assert completions["prompt"] == "Seja breve.\n\nP?"
    assert LlamaCppRunner(HTTP, "m").body(REQUEST)["prompt"] == "Seja breve.\n\nP?"


def test_think_is_sent_only_when_asked() -> None:
    assert "think" not in OllamaRunner(HTTP, "m").body(REQUEST)
    assert OllamaRunner(HTTP, "m", think=False).body(REQUEST)["think"] is False
