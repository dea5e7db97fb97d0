"""Bearer tokens: NEWSWIRE_API_READ_TOKEN for reads (unset = open), NEWSWIRE_API_TOKEN
for writes (unset = open, which settings refuse in production). The write token also
grants reads."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, status

from shared.settings import get_settings


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


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


def require_read(request: Request) -> None:
    settings = get_settings()
    if settings.api_read_token is None:
        return
    token = _bearer(request)
    if token is None:
        raise _deny("this endpoint needs 'Authorization: Bearer <read token>'")
    if not _matches(token, settings.api_read_token, settings.api_token):
        raise _deny("the bearer token is not valid for reading")


def require_write(request: Request) -> None:
    settings = get_settings()
    if settings.api_token is None:
        return
    token = _bearer(request)
    if token is None:
        raise _deny("this endpoint needs 'Authorization: Bearer <write token>'")
    if not _matches(token, settings.api_token):
        raise _deny("the bearer token is not valid for writing")
