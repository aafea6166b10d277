"""The agent's prompt: a template with ``{{objetivo}}``, ``{{estrategia}}``,
``{{radar}}`` and ``{{protocolo}}``, plus the shipped strategy presets.

A template without ``{{radar}}`` would leave the model blind, and one without
``{{protocolo}}`` would leave it not knowing how to answer; both blocks are
appended instead, with a warning, so the agent always plays.

The arena records the template in an ``agent_prompt`` message whose limit,
4000, is counted in UTF-16 code units (an emoji counts 2): a longer template
is cut to fit, keeping those two blocks, with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass

from gambiarra.domain.text import utf16_len, utf16_truncate

__all__ = [
    "DEFAULT_TEMPLATE",
    "PROTOCOL_BLOCK",
    "STRATEGIES",
    "TEMPLATE_LIMIT",
    "Briefing",
    "prepare_template",
    "resolve_strategy",
]

PROTOCOL_BLOCK = (
    "Responda em UMA linha, exatamente neste formato:\n"
    "MOVE: <DIREÇÃO> | comentário curto\n"
    "onde <DIREÇÃO> é uma de: N, NE, E, SE, S, SW, W, NW, STAY."
)

DEFAULT_TEMPLATE = (
    "Você controla um avatar numa arena 2-D, vista de cima, com o norte (N) para cima.\n"
    "Objetivo: {{objetivo}}\n"
    "Sua estratégia: {{estrategia}}\n\n"
    "{{radar}}\n\n"
    "{{protocolo}}"
)

STRATEGIES = {
    "greedy": "vá sempre na direção da comida mais próxima, pelo caminho mais curto.",
    "explorer": (
        "explore partes da arena onde ainda não esteve; quando uma comida estiver perto, "
        "vá buscá-la."
    ),
    "cautious": (
        "vá atrás da comida, mas mantenha distância das paredes; se estiver encostado numa "
        "parede, afaste-se dela primeiro."
    ),
}
_ALIASES = {"guloso": "greedy", "explorador": "explorer", "cauteloso": "cautious"}

# The arena's limit for agent_prompt.template, in UTF-16 code units.
TEMPLATE_LIMIT = 4000
_BLOCKS = ("{{radar}}", "{{protocolo}}")
_BLOCKS_ROOM = "".join("\n\n" + block for block in _BLOCKS)


def resolve_strategy(text: str) -> str:
    """A preset's text when given its name (English or Portuguese), else the text itself."""
    key = text.strip().lower()
    return STRATEGIES.get(_ALIASES.get(key, key), text)


def prepare_template(template: str) -> tuple[str, list[str]]:
    """Fit the template to the arena's limit and append the blocks it forgot.

    Returns:
        The template, at most ``TEMPLATE_LIMIT`` UTF-16 units long and with
        ``{{radar}}`` and ``{{protocolo}}``, and one warning per change made.
    """
    warnings = []
    if utf16_len(template) > TEMPLATE_LIMIT:
        # Room for both blocks, in case the cut drops one of them.
        template = utf16_truncate(template, TEMPLATE_LIMIT - len(_BLOCKS_ROOM))
        opened = template.rfind("{{")
        if opened != -1 and "}}" not in template[opened:]:
            template = template[:opened]  # no half placeholder left for the model to read
        warnings.append(
            f"o modelo de prompt passava de {TEMPLATE_LIMIT} caracteres (emoji contam 2): "
            "cortado no limite; encurte o arquivo"
        )
    for placeholder in _BLOCKS:
        if placeholder not in template:
            template = template.rstrip() + "\n\n" + placeholder
            warnings.append(f"o modelo de prompt não tinha {placeholder}: acrescentado no fim")
    return template, warnings


@dataclass(frozen=True, slots=True)
class Briefing:
    """The participant's template and strategy, ready to fill in for each pulse."""

    template: str = DEFAULT_TEMPLATE
    strategy: str = STRATEGIES["greedy"]

    @property
    def is_default(self) -> bool:
        return self.template == DEFAULT_TEMPLATE

    def render(self, objective: str, radar: str) -> str:
        return (
            self.template.replace("{{objetivo}}", objective or "colete o máximo de comidas")
            .replace("{{estrategia}}", self.strategy)
            .replace("{{radar}}", radar)
            .replace("{{protocolo}}", PROTOCOL_BLOCK)
        )
