"""The live page's plain HTTP side: the page itself, the history JSON, and who may ask.

Served by the same websockets listener as the event stream (``process_request``
answers anything that is not the stream's upgrade). The page is one HTML file
shipped with the package; its inline script and style are allowed by hash in a
Content-Security-Policy that allows nothing else: no other script, no inline
event handler, no fetch but to this server, no image but ``data:`` URLs (the
drawings), no frames, and Trusted Types, so even a mistaken ``innerHTML`` in
the page throws instead of parsing text as HTML.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import http
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

__all__ = [
    "EVENTS_PATH",
    "HISTORY_PATH",
    "Page",
    "allowed_hosts",
    "json_response",
    "load_page",
    "refusal",
    "text_response",
]

EVENTS_PATH = "/events"
HISTORY_PATH = "/history.json"

_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)
_SAFETY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True)
class Page:
    """The page's HTML and the policy that lets exactly its own script and style run."""

    html: bytes
    policy: str


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def content_policy(html: str) -> str:
    """The Content-Security-Policy for ``html``: its inline blocks by hash, nothing else."""
    scripts = [_hash(body) for kind, body in _INLINE.findall(html) if kind == "script"]
    styles = [_hash(body) for kind, body in _INLINE.findall(html) if kind == "style"]
    return "; ".join(
        [
            "default-src 'none'",
            "script-src " + " ".join(scripts or ["'none'"]),
            "style-src " + " ".join(styles or ["'none'"]),
            "img-src data:",  # the drawings, as data: URLs (an image runs no script)
            "connect-src 'self'",  # the event stream and the history, from this server only
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
            "require-trusted-types-for 'script'",
            "trusted-types 'none'",
        ]
    )


@cache
def load_page() -> Page:
    """The page shipped with the package (read once)."""
    html = resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")
    return Page(html.encode(), content_policy(html))


def _response(status: int, body: bytes, content_type: str, extra: dict[str, str]) -> Response:
    headers = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Length", str(len(body))),
            ("Content-Type", content_type),
        ]
    )
    for name, value in {**_SAFETY_HEADERS, **extra}.items():
        headers[name] = value
    return Response(status, http.HTTPStatus(status).phrase, headers, body)


def page_response(page: Page) -> Response:
    return _response(
        200, page.html, "text/html; charset=utf-8", {"Content-Security-Policy": page.policy}
    )


def json_response(body: Any) -> Response:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return _response(200, data, "application/json; charset=utf-8", {})


def text_response(status: int, text: str) -> Response:
    return _response(status, (text + "\n").encode(), "text/plain; charset=utf-8", {})


def allowed_hosts(port: int, also: Iterable[str] = ()) -> frozenset[str]:
    """The ``Host`` values a loopback-only page answers (a DNS-rebinding site sends its own).

    ``also``: the names it was bound under (``--web-host 127.0.1.1``, the
    machine's own name), so the address it prints always works.
    """
    names = {"127.0.0.1", "localhost", "[::1]", *also}
    return frozenset(f"{name}:{port}" for name in names)


def refusal(request: Request, hosts: frozenset[str] | None) -> Response | None:
    """403 for a request from elsewhere; None when it may be answered.

    ``hosts``: the ``Host`` values accepted (None: any, when the participant
    opened the page to the network). The stream also needs its ``Origin``, when
    a browser sends one, to be this very page: a page from another site open in
    the same browser must not read the session (a WebSocket has no same-origin rule).
    """
    host = request.headers.get("Host", "")
    if hosts is not None and host.lower() not in hosts:
        return text_response(403, "endereço não permitido: abra a página pelo endereço mostrado")
    origin = request.headers.get("Origin")
    if origin is not None and origin.lower() != f"http://{host}".lower():
        return text_response(403, "origem não permitida: abra a página pelo endereço mostrado")
    return None
