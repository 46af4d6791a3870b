"""Two pure-ASGI middlewares: security headers on every response, and the request-body limit.

* :class:`SecurityHeaders` — a Content-Security-Policy that allows only the hub's own scripts,
  styles and requests (the pages load local assets only; Swagger UI's start-up is a file,
  ``/static/swagger-init.js``, so no inline script is needed), no framing, no MIME sniffing, no
  referrer, and ``Cache-Control: no-store`` on every ``/api/`` response (medical JSON must not be
  kept by browsers or proxies).
* :class:`BodyLimit` — ``models_api.max_body_bytes`` on every request body: refused from the
  Content-Length header before anything is read, and counted while the body is read, so a chunked
  upload without a length cannot pass it either (413 naming the limit).
"""

from __future__ import annotations

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, MutableHeaders

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {"content-security-policy": CSP, "x-frame-options": "DENY", "x-content-type-options": "nosniff",
           "referrer-policy": "no-referrer"}


class SecurityHeaders:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        api = scope["path"].startswith("/api/")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
                if api:
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        detail = f"the request body is larger than the limit of {self.max_bytes} bytes (models_api.max_body_bytes)"
        length = Headers(scope=scope).get("content-length")
        if length is not None and length.strip().isdigit() and int(length) > self.max_bytes:
            return await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, detail)
            return message

        await self.app(scope, limited_receive, send)
