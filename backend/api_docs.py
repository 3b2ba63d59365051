"""The OpenAPI document: every error answer a route lists is an :class:`backend.schemas.ErrorOut`.

Routers list their error codes with :func:`error_responses` (no model); the API app
(:class:`backend.api.ApiApp`) gives each of them the ``ErrorOut`` model with
:func:`attach_error_models` when ``/openapi.json`` is first built. The document is the
one ``responses={code: {"model": ErrorOut}}`` gave, but FastAPI builds a pydantic field for every
route and listed code when a route is made (twice: once more when its router is included), some
200 fields here: ~15 ms of building the API for a document that is rarely asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.routing import iter_route_contexts
from fastapi.utils import create_model_field
from starlette.routing import BaseRoute

from backend.schemas import ErrorOut


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """A router's ``responses``: these codes answer an ``ErrorOut`` (added by the document)."""
    return {code: {} for code in codes}


def attach_error_models(routes: Sequence[BaseRoute]) -> None:
    """Give each listed 4xx/5xx answer without a model the ``ErrorOut`` model, as FastAPI does
    for ``{"model": ErrorOut}`` when it makes the route: the document comes out the same."""
    for route in iter_route_contexts(routes):
        answers: dict[int | str, dict[str, Any]] = getattr(route, "responses", None) or {}
        fields: dict[int | str, Any] | None = getattr(route, "response_fields", None)
        for code, answer in answers.items():
            if fields is None or answer or code in fields or str(code)[:1] not in ("4", "5"):
                continue
            name = f"Response_{code}_{route.unique_id}"
            fields[code] = create_model_field(name=name, type_=ErrorOut, mode="serialization")
