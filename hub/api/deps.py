"""Dependencies shared by the routers: the store, the ingest, and who is asking (role)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hub.store import Store

bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True)
class Caller:
    name: str
    role: str  # medic | ohs | admin


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_caller(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Caller:
    """Resolve the bearer token to a role; without a token, the configured anonymous role (if any)."""
    api = request.app.state.config.api
    if credentials is not None:
        for entry in api.tokens:
            if hmac.compare_digest(entry.token.encode(), credentials.credentials.encode()):
                return Caller(entry.name, entry.role)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown API token")
    if api.anonymous_role is not None:
        return Caller("anonymous", api.anonymous_role)
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED, "an API token is required (Authorization: Bearer …)",
        headers={"WWW-Authenticate": "Bearer"},
    )


def require(*roles: str):
    """Dependency factory: the caller must hold one of ``roles``."""

    def check(caller: Caller = Depends(get_caller)) -> Caller:
        if caller.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role '{caller.role}' may not do this; needs {' or '.join(roles)}")
        return caller

    return check
