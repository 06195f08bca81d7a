"""A whole HTTP response as the SDK sees it, and problem documents turned into errors."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from modeldepot.errors import ModeldepotError, ServerUnreachable, error_class_for


class Response:
    """Status, headers (names in lower case) and the body of a response read whole."""

    def __init__(
        self, status_code: int, headers: dict[str, str], content: bytes, reason_phrase: str = ""
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content
        if not reason_phrase:
            try:
                reason_phrase = HTTPStatus(status_code).phrase
            except ValueError:
                reason_phrase = ""
        self.reason_phrase = reason_phrase

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


def raise_for_problem(response: Response) -> None:
    """Raise the domain error a problem document (or any status from 400) stands for."""
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("code") or "HTTP_ERROR")
    detail = str(body.get("detail") or response.reason_phrase or f"HTTP {response.status_code}")
    extra = {
        k: v for k, v in body.items() if k not in ("type", "title", "status", "detail", "code")
    }
    cls = error_class_for(code)
    error = cls(detail, **extra)
    if cls is ModeldepotError:
        error.code = code  # type: ignore[misc]
    error.status = response.status_code  # type: ignore[attr-defined]
    raise error


def raise_for_store(response: Response) -> None:
    """A blob store's refusal of a presigned request, as ServerUnreachable."""
    if response.status_code >= 400:
        # S3 answers in XML; its code (e.g. AccessDenied for an expired URL) is enough.
        text = response.text
        found = text.split("<Code>", 1)[-1].split("</Code>", 1)[0][:100]
        reason = found if "<Code>" in text else response.reason_phrase
        raise ServerUnreachable(f"the blob store refused: HTTP {response.status_code} {reason}")
