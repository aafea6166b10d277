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


def gave_up(reason: str, attempts: int, limit: int | None) -> str:
    return f"{reason}; desisti depois de {attempts} tentativa(s) (--max-reconnects {limit})"


def closed(code: int | None) -> str:
    how = "sem aviso de fechamento" if code in (None, 1006) else f"código {code}"
    return f"a conexão com a arena caiu ({how})"
