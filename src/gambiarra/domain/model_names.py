"""Spot a ``--model`` that is not a model name: a pasted command or a file path.

At the last events participants typed ``ollama run smollm2`` or the path of
a ``.gguf`` file; both failed only when the round started, and a path would
have shown the arena the participant's home folder. This tells, before any
request, what to type instead.
"""

from __future__ import annotations

import re

__all__ = ["pasted_model_hint"]

# The programs whose command lines get pasted as a model name, and their verbs.
_COMMAND = re.compile(
    r"^(?:ollama|lms|llama-server|llama-cli|\./llama-[\w-]+)(?:\s+|$)"
    r"(?:(?:run|pull|load|get|serve)(?:\s+|$))?",
    re.IGNORECASE,
)
_OPTION = re.compile(r"(?:^|\s)--?\w[\w-]*(?:=\S*)?")
# /abs, ~/home, ./relative, ../up, C:\ or C:/, \\server
_PATH = re.compile(r"^(?:/|~|\.{1,2}[/\\]|[A-Za-z]:[/\\]|\\\\)")
_MODEL_FILE = re.compile(r"\.(?:gguf|bin|safetensors)$", re.IGNORECASE)


def pasted_model_hint(model: str) -> str | None:
    """What to type instead, in Portuguese; None when ``model`` looks like a model name."""
    text = model.strip()
    if _PATH.match(text) or "\\" in text:
        name = _MODEL_FILE.sub("", re.split(r"[/\\]", text)[-1])
        example = f"por exemplo --model {name}" if name else "o nome que o servidor mostra"
        return (
            f"--model parece um caminho de arquivo: use só o nome do modelo ({example}); "
            "o caminho iria para a arena"
        )
    command = _COMMAND.match(text)
    if command is not None:
        rest = _OPTION.sub(" ", text[command.end() :]).split()
        instead = f"--model {rest[0]}" if rest else "só o nome do modelo em --model"
        return f"--model {model!r} parece um comando colado: use {instead}"
    if any(c.isspace() for c in text):
        return (
            f"--model {model!r} tem espaços, e nomes de modelo não têm: "
            "veja os nomes com gambiarra-client models"
        )
    return None
