"""The dashboard's capture buttons: ``POST /actions/capture/{pause,resume,now}`` → capture.sock,
and "never record this app": ``POST /actions/capture/exclude`` with ``{"app": "<name>"}`` →
capture's ``add_exclude`` with a rule matching exactly that app (its glob characters escaped).

Wire it into the app with ``app.include_router(capture_router(AsyncRequester(endpoints.capture)))``.
Answers: 200 with the op's result (the new ``capture.status`` for pause/resume/exclude,
``{kept, skipped}`` for now); 400 when capture refuses the rule (``bad_request``); 409 with
``{"error"}`` when capture refuses otherwise (e.g. no display); 503 when capture is not running.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Annotated, Literal

import msgspec
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from bus import AsyncRequester, BusError, RemoteError
from bus.codec import encode_struct
from bus.messages import CaptureNowArgs, ExcludeRule
from bus.ops import CaptureOps

CaptureAction = Literal["pause", "resume", "now"]
_STATE_OPS = {"pause": CaptureOps.PAUSE, "resume": CaptureOps.RESUME}
_GLOB = re.compile(r"([*?\[])")


class ExcludeApp(BaseModel):
    """The body of ``POST /actions/capture/exclude``: the app (a window class) never to record."""

    app: Annotated[str, Field(min_length=1, max_length=256)]


def app_rule(app: str) -> ExcludeRule:
    """A rule for exactly ``app``: ``*``, ``?`` and ``[`` in the name match only themselves."""
    return ExcludeRule(app=_GLOB.sub(r"[\1]", app))


async def _call(capture: AsyncRequester, action: CaptureAction) -> msgspec.Struct:
    if action == "now":
        return await capture.call(CaptureOps.CAPTURE_NOW, CaptureNowArgs())
    return await capture.call(_STATE_OPS[action])


async def _exclude(capture: AsyncRequester, app: str) -> msgspec.Struct:
    return await capture.call(CaptureOps.ADD_EXCLUDE, app_rule(app))


def capture_router(capture: AsyncRequester) -> APIRouter:
    """The routes that relay the dashboard's capture buttons to the capture process."""
    router = APIRouter()

    @router.post("/actions/capture/exclude")  # before {action}, which would take "exclude"
    async def exclude_app(body: ExcludeApp) -> JSONResponse:
        return await _answer(_exclude(capture, body.app))

    @router.post("/actions/capture/{action}")
    async def capture_action(action: CaptureAction) -> JSONResponse:
        return await _answer(_call(capture, action))

    return router


async def _answer(call: Awaitable[msgspec.Struct]) -> JSONResponse:
    """The op's result as JSON, or its refusal (400 bad_request, else 409), or 503."""
    try:
        result = await call
    except RemoteError as exc:
        status = 400 if exc.code == "bad_request" else 409
        return JSONResponse({"error": exc.message}, status_code=status)
    except BusError as exc:
        return JSONResponse({"error": f"capture is not running: {exc}"}, status_code=503)
    return JSONResponse(msgspec.json.decode(encode_struct(result)))
