"""How a challenge's prompt is shaped before it reaches the model.

A participant may wrap every prompt in a template of their own ("context
engineering") and give a system prompt. Runners whose API has a system
message send it there; the others get it prepended (``with_system``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PLACEHOLDER", "PromptStyle", "apply_template", "chat_messages", "with_system"]

PLACEHOLDER = "{prompt}"


@dataclass(frozen=True, slots=True)
class PromptStyle:
    """The participant's own wrapping of every challenge prompt."""

    system: str | None = None
    template: str | None = None


def apply_template(template: str | None, prompt: str) -> str:
    """Put the challenge's prompt where the template says ``{prompt}``.

    Plain replacement, not ``str.format``: templates often hold JSON or code
    with braces of their own.
    """
    if template is None:
        return prompt
    return template.replace(PLACEHOLDER, prompt)


def with_system(system: str | None, prompt: str) -> str:
    """The prompt for an API with no system message: the system text first."""
    return prompt if not system else f"{system}\n\n{prompt}"


def chat_messages(system: str | None, prompt: str) -> list[dict[str, str]]:
    """The messages of a chat API: the system prompt first, when there is one."""
    head = [{"role": "system", "content": system}] if system else []
    return [*head, {"role": "user", "content": prompt}]
