"""The transport under httpx for model servers: aiohttp's, whose HTTP parser is C.

A model streams one small HTTP chunk per token. httpx's own transport parses
every chunk in Python (h11: ~5 µs of CPU per token on a 2-core machine, more
than everything else the client does for that token); aiohttp's parser
(llhttp) hands over, in one piece, every byte that arrived in one read
(~1 µs per token). The runners keep speaking httpx: requests, responses,
timeouts, errors and the tests' respx mocks are httpx's, and only the bytes
on the socket go through aiohttp. Without aiohttp, or outside asyncio, httpx
uses its own transport and the client works the same, only slower.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx
import sniffio

if TYPE_CHECKING:
    import aiohttp

__all__ = ["TRANSPORT_ENV", "AiohttpTransport", "model_transport"]

# "httpx" makes model servers use httpx's own transport (h11), to compare or
# to rule this one out when something goes wrong.
TRANSPORT_ENV = "GAMBIARRA_MODEL_HTTP"
# Idle connections to the model server are kept this long. Many servers close
# their own idle ones after 5 s (Node's, so LM Studio's; llama-server's;
# uvicorn's, so vLLM's), and aiohttp, unlike httpcore, does not look at the
# socket before reusing one: a POST sent just as the server closes would fail
# (aiohttp retries only idempotent methods). Below 5 s, that race cannot happen.
KEEPALIVE_S = 4.0
# The size of a response head httpx's own transport accepts (h11's limit).
HEAD_LIMIT = 100 * 1024


def model_transport() -> httpx.AsyncBaseTransport | None:
    """The transport for model servers; ``None`` means httpx's own.

    Called inside the running event loop, where the client is made.
    """
    if os.environ.get(TRANSPORT_ENV, "").strip().lower() == "httpx":
        return None
    try:
        if sniffio.current_async_library() != "asyncio":
            return None
        import aiohttp  # noqa: F401  (imported here: `--help` must not pay for it)
    except (ImportError, sniffio.AsyncLibraryNotFoundError):
        return None
    return AiohttpTransport()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx requests sent, and their responses read, with an aiohttp session.

    No redirects, no cookies, no proxy from the environment and no
    decompression here: httpx decides those above, as with its own transport.
    """

    def __init__(self, keepalive_s: float = KEEPALIVE_S) -> None:
        self._keepalive_s = keepalive_s
        self._session: aiohttp.ClientSession | None = None
        self._tls: ssl.SSLContext | None = None

    def _opened(self) -> aiohttp.ClientSession:
        # Made on the first request: an aiohttp session belongs to the running loop.
        import aiohttp

        if self._session is None:
            connector = aiohttp.TCPConnector(
                keepalive_timeout=self._keepalive_s,
                # The system's own lookup, as httpx does (with aiodns installed,
                # aiohttp would switch to c-ares, which skips mDNS and the like).
                resolver=aiohttp.ThreadedResolver(),
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                # httpx already wrote these headers (or chose to leave them out:
                # a body without a Content-Type must not get aiohttp's
                # application/octet-stream).
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
                # A response head as big as httpx's own transport takes (aiohttp's
                # defaults, 8 KiB a line and 128 headers, refuse some proxies' heads).
                max_line_size=HEAD_LIMIT,
                max_field_size=HEAD_LIMIT,
                max_headers=HEAD_LIMIT // 100,
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import aiohttp
        import yarl

        session = self._opened()
        tls: ssl.SSLContext | bool = True  # unused for http://
        if request.url.scheme == "https":
            if self._tls is None:
                # The certificates httpx's own transport trusts (certifi's, not
                # the system's): an https model server is trusted, or refused,
                # exactly as before. Made on first use: it reads the whole bundle.
                self._tls = httpx.create_ssl_context(trust_env=False)
            tls = self._tls
        limits: dict[str, float | None] = request.extensions.get("timeout", {})
        timeout = aiohttp.ClientTimeout(
            total=None,
            # ``connect`` also bounds the name lookup, as httpx's connect timeout does.
            connect=limits.get("connect"),
            sock_connect=limits.get("connect"),
            sock_read=limits.get("read"),
        )
        headers = request.headers.multi_items()
        data: bytes | httpx.AsyncByteStream | None
        if "transfer-encoding" in request.headers and isinstance(
            request.stream, httpx.AsyncByteStream
        ):
            # A body of unknown length, which httpx sends chunked: aiohttp chunks
            # it and writes that header itself (given the header as well, it would
            # send it beside a Content-Length, over a body left unchunked).
            headers = [(k, v) for k, v in headers if k.lower() != "transfer-encoding"]
            data = request.stream
        else:
            data = await request.aread() or None
        try:
            response = await session.request(
                request.method,
                # A user:password@ in the URL is already httpx's Authorization
                # header; aiohttp refuses to be given both.
                yarl.URL(str(request.url), encoded=True).with_user(None),
                headers=headers,
                data=data,
                timeout=timeout,
                allow_redirects=False,
                ssl=tls,
            )
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _httpx_error(exc, request) from exc
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=_Body(response, request),
            extensions={
                "http_version": f"HTTP/{response.version.major}.{response.version.minor}".encode()
                if response.version
                else b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode("latin-1", "replace"),
            },
        )

    async def aclose(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


class _Body(httpx.AsyncByteStream):
    """A response body as it arrives: everything one socket read brought, at once."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        import aiohttp

        try:
            async for data in self._response.content.iter_any():
                yield data
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _httpx_error(exc, self._request) from exc

    async def aclose(self) -> None:
        # A body read to its end gives the connection back to the pool; one
        # left unread closes it (the server then stops sending).
        self._response.release()


def _httpx_error(exc: BaseException, request: httpx.Request) -> httpx.TransportError:
    """The httpx exception httpx's own transport raises for the same failure."""
    import aiohttp

    message = str(exc) or type(exc).__name__
    kind: Any
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        kind = httpx.ConnectTimeout
    elif isinstance(exc, asyncio.TimeoutError):  # aiohttp's socket read timeouts are these
        kind = httpx.ReadTimeout
    elif isinstance(exc, aiohttp.ClientConnectorError):
        kind = httpx.ConnectError
    elif isinstance(exc, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)):
        kind = httpx.UnsupportedProtocol
    elif isinstance(exc, aiohttp.ClientOSError):
        kind = httpx.ReadError
    else:  # the server closed mid-answer, or sent what is not HTTP
        kind = httpx.RemoteProtocolError
    error: httpx.TransportError = kind(message, request=request)
    return error
