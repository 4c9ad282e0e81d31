"""Safe by default: what every request must show before the studio answers it.

* **Host header** must name this server on the loopback (``127.0.0.1:PORT``, ``localhost:PORT``,
  ``[::1]:PORT``): a page of another site that rebinds its DNS name to 127.0.0.1 sends its own
  host name and is refused (DNS rebinding).
* **Token**: every path starts with ``/s/<token>/``, a random secret made at start and printed in
  the URL the command opens; a request without it (or with another) is refused, compared in
  constant time. Relative links in the page carry it with no script help.
* **Origin**: a request that changes something (not GET/HEAD) and names an ``Origin`` must come
  from the studio's own origin (cross-site form posts are refused).

Refusals are ``400`` / ``403`` with a one-line JSON message.
"""

from __future__ import annotations

import json
import logging
import secrets

log = logging.getLogger(__name__)

SAFE_METHODS = {"GET", "HEAD"}


def new_token() -> str:
    return secrets.token_urlsafe(24)


def loopback_hosts(port: int) -> set[str]:
    return {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}


class Guard:
    """ASGI middleware: Host, token and Origin checks; ``/s/<token>`` becomes the ``root_path``."""

    def __init__(self, app, token: str, hosts: set[str]):
        self.app = app
        self.token = token
        self.prefix = f"/s/{token}"
        self.hosts = {h.lower() for h in hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self.app(scope, receive, send)
        if scope["type"] != "http":
            return await _refuse(send, 400, "only HTTP requests are served")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "").lower()
        if host not in self.hosts:
            log.warning("refused a request for host %r", host)
            return await _refuse(send, 403, f"host {host!r} is not this studio; open the 127.0.0.1 URL that "
                                            "`mixdown studio` printed")
        path = scope.get("path", "")
        parts = path.split("/", 3)  # "", "s", token, rest
        if len(parts) < 3 or parts[1] != "s" or not secrets.compare_digest(parts[2], self.token):
            return await _refuse(send, 403, "missing or wrong access token; open the full URL that "
                                            "`mixdown studio` printed (it ends with the token)")
        origin = headers.get("origin")
        if scope.get("method") not in SAFE_METHODS and origin is not None:
            if origin.lower() not in {f"http://{h}" for h in self.hosts}:
                log.warning("refused a %s from origin %r", scope.get("method"), origin)
                return await _refuse(send, 403, f"requests from {origin!r} may not change this studio")
        if len(parts) == 3:  # "/s/<token>" without the slash: relative links need it
            return await _redirect(send, self.prefix + "/")
        inner = dict(scope)
        inner["root_path"] = self.prefix  # Starlette routes on the path below it
        return await self.app(inner, receive, send)


async def _redirect(send, location: str) -> None:
    await send({"type": "http.response.start", "status": 307,
                "headers": [(b"location", location.encode()), (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


async def _refuse(send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})
