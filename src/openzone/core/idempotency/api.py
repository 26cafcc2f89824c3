"""Answer a POST with an Idempotency-Key once, and replay the same answer for a retry of the same request."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import Header
from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from openzone.core.idempotency import domain, service
from openzone.core.identity import Principal

KEY: Any = Header(None, alias="Idempotency-Key", max_length=domain.MAX_KEY_LENGTH,
                  description="A client-chosen key (≤ 255 printable ASCII characters); a retry with the same key and "
                              "the same body gets the first response again, with `Idempotent-Replayed: true`.")
REPLAYED = "Idempotent-Replayed"


def _encode(result: Any) -> bytes:
    data = result.model_dump(mode="json") if isinstance(result, BaseModel) else jsonable_encoder(result)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _replay(row: Any) -> Response:
    return Response(row.body, status_code=row.status_code, media_type="application/json", headers={REPLAYED: "true"})


def respond(session: Session, principal: Principal, key: str | None, *, scope: str, request: Any,
            status_code: int, produce: Callable[[], Any]) -> Response:
    """Run `produce` once per key and store its JSON response in the caller's transaction; replay it for retries."""
    if key is None:
        return Response(_encode(produce()), status_code=status_code, media_type="application/json")
    if not domain.valid_key(key):
        raise service.IdempotencyKeyInvalid("Idempotency-Key 须为 1–255 个可打印 ASCII 字符",
                                            "Idempotency-Key must be 1–255 printable ASCII characters",
                                            errors=[{"field": "Idempotency-Key", "code": "invalid"}])
    owner = domain.principal_key(principal.person_id, principal.token_id)
    digest = domain.fingerprint(scope, request)
    earlier = service.find(session, principal=owner, scope=scope, key=key)
    if earlier is not None:
        return _replay(service.check_replay(earlier, digest))
    row, fresh = service.reserve(session, principal=owner, scope=scope, key=key, request_sha256=digest)
    if not fresh:
        return _replay(row)
    body = _encode(produce())
    service.complete(session, row, status_code=status_code, body=body)
    return Response(body, status_code=status_code, media_type="application/json")
