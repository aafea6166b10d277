"""The agent_prompt template fits the arena's 4000 UTF-16 units (emoji count 2)."""

from __future__ import annotations

from gambiarra.domain.events import Send
from gambiarra.domain.protocol import AgentPrompt
from gambiarra.domain.text import utf16_len
from gambiarra.domain.world.agent import AgentMachine, Joined
from gambiarra.domain.world.prompt import TEMPLATE_LIMIT, Briefing, prepare_template


def sent_template(template: str) -> str:
    machine = AgentMachine("ana-pc", Briefing(template))
    prompts = [
        action.message
        for action in machine.handle(Joined(at=0.0))
        if isinstance(action, Send) and isinstance(action.message, AgentPrompt)
    ]
    assert len(prompts) == 1
    return prompts[0].template


def test_a_template_of_emoji_is_cut_in_utf16_units_and_keeps_its_blocks() -> None:
    template, warnings = prepare_template("{{radar}} {{protocolo}} " + "🦊" * 3000)
    assert utf16_len(template) <= TEMPLATE_LIMIT == 4000
    assert len(template) < 2100  # Python's count was the bug: 4000 characters are 8000 units
    assert "{{radar}}" in template
    assert "{{protocolo}}" in template
    assert any("4000" in warning and "cortado" in warning for warning in warnings)
    assert sent_template(template) == template  # what the arena gets is the whole of it


def test_a_cut_through_a_placeholder_drops_the_half_and_appends_the_blocks() -> None:
    # The cut leaves room for both blocks (26 units) and lands inside "{{radar}}".
    template, warnings = prepare_template("x" * 3970 + "{{radar}} " + "🦊" * 100)
    assert template == "x" * 3970 + "\n\n{{radar}}\n\n{{protocolo}}"
    assert utf16_len(template) <= TEMPLATE_LIMIT
    assert len(warnings) == 3  # cut, then both blocks appended


def test_a_template_that_fits_is_left_alone() -> None:
    exact = "{{radar}}{{protocolo}}" + "é" * (TEMPLATE_LIMIT - 22)
    assert prepare_template(exact) == (exact, [])
