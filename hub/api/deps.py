"""Dependencies shared by the routers: the store, the ingest, and who is asking (role)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any, NoReturn

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from hub.store import RequestRefused, Store

bearer = HTTPBearer(auto_error=False)

#: Largest paging offset (and id) a query may carry: SQLite integers are 64-bit, and no table here
#: comes near 2**53 rows. A fixed domain bound, not a policy: larger values are 422, never 500.
MAX_OFFSET = 2**53


class ErrorBody(BaseModel):
    """An error answer: FastAPI's list of validation problems, one problem (an object naming the field
    or the rule), or a sentence."""

    detail: list[dict[str, Any]] | dict[str, Any] | str


#: ``responses=`` for routers whose own 422 answers carry an object or a sentence (documented in OpenAPI)
ERRORS: dict = {422: {"model": ErrorBody, "description": "the request cannot be used; detail says why"}}


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


#: Any authenticated role (medic, ohs or admin); anonymous callers only where api.anonymous_role is set.
any_role = require("medic", "ohs", "admin")


def refuse(error: RequestRefused) -> NoReturn:
    """Answer a request a hub module refused with its status and detail (``{"message", "field"}``)."""
    raise HTTPException(error.status, error.http_detail()) from None
