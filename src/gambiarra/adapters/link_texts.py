"""What the participant reads about the arena link, in one place (Portuguese)."""

from __future__ import annotations

__all__ = [
    "NO_SESSION",
    "PIN_EXPIRED",
    "PIN_REJECTED",
    "REGISTRATION_FAILED",
    "SESSION_ENDED",
    "closed",
    "gave_up",
    "id_in_use",
]

PIN_REJECTED = "a arena recusou o PIN: confira o PIN com a organização"
PIN_EXPIRED = (
    "a organização abriu uma nova sessão e o PIN antigo não vale mais: "
    "peça o novo PIN e rode de novo"
)
NO_SESSION = "a organização ainda não abriu a sessão"
REGISTRATION_FAILED = "a arena não conseguiu registrar (Registration failed)"
SESSION_ENDED = "a organização abriu uma nova sessão"


def id_in_use(participant_id: str) -> str:
    return (
        f"outro cliente está jogando como '{participant_id}': "
        "escolha outro --participant-id ou pare o outro cliente"
    )


def gave_up(reason: str, retries: int, limit: int | None) -> str:
    return f"{reason}; desisti depois de {retries} nova(s) tentativa(s) (--max-reconnects {limit})"


# What a WebSocket close code means, for someone who never heard of RFC 6455.
_CLOSES = {
    1000: "a arena encerrou a conexão",
    1001: "a arena está saindo do ar ou reiniciando",
    1005: "a arena fechou sem dizer por quê",
    1006: "sem aviso de fechamento",
    1009: "uma mensagem grande demais para a arena",
    1011: "erro interno da arena",
    1012: "a arena está reiniciando",
}


def closed(code: int | None) -> str:
    how = _CLOSES.get(code or 1006, f"código {code}")
    return f"a conexão com a arena caiu ({how})"
