"""Bearer tokens of the HTTP API: one rule for every router (store reads, ingest writes, ...).

* Writes need ``Authorization: Bearer <NEWSWIRE_API_TOKEN>``. With no write token set,
  every write is refused with 503: an API that forgot its secret is never open for writing.
* Reads need ``Authorization: Bearer <NEWSWIRE_API_READ_TOKEN>`` when that token is set (the
  write token is accepted too); with no read token set, reads are open (a public archive).

Both dependencies declare the ``HTTPBearer`` security scheme, so the OpenAPI document says
which operations take a token.
"""

from __future__ import annotations

import hmac

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.settings import get_settings

bearer = HTTPBearer(
    auto_error=False,
    description="NEWSWIRE_API_TOKEN for writes; NEWSWIRE_API_READ_TOKEN (or the write token) "
    "for reads when a read token is set",
)


def _token(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    if credentials is None or credentials.scheme.lower() != "bearer":
        return None
    return credentials.credentials.strip() or None


def _matches(token: str | None, *expected: str | None) -> bool:
    return token is not None and any(
        e is not None and hmac.compare_digest(token.encode(), e.encode()) for e in expected
    )


def _deny(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


def require_read(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
    settings = get_settings()
    if settings.api_read_token is None:
        return
    token = _token(credentials)
    if token is None:
        raise _deny("this endpoint needs 'Authorization: Bearer <read token>'")
    if not _matches(token, settings.api_read_token, settings.api_token):
        raise _deny("the bearer token is not valid for reading")


def require_write(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
    settings = get_settings()
    if not settings.api_token:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "writes are disabled: NEWSWIRE_API_TOKEN is not set",
        )
    token = _token(credentials)
    if token is None:
        raise _deny("this endpoint needs 'Authorization: Bearer <write token>'")
    if not _matches(token, settings.api_token):
        raise _deny("invalid token")
