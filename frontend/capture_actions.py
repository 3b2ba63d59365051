"""The dashboard's capture buttons: ``POST /actions/capture/{pause,resume,now}`` → capture.sock,
and "never record this app": ``POST /actions/capture/exclude`` with ``{"app": "<name>"}`` →
capture's ``add_exclude`` with a rule matching exactly that app (its glob characters escaped).

Wire them into the app: ``Starlette(routes=capture_routes(AsyncRequester(endpoints.capture)))``.
Answers: 200 with the op's result (the new ``capture.status`` for pause/resume/exclude,
``{kept, skipped}`` for now); 400 when capture refuses the rule (``bad_request``); 409 with
``{"error"}`` when capture refuses otherwise (e.g. no display); 422 with ``{"error"}`` for an
unknown action or a body that is not ``{"app": "<1 to 256 characters>"}``; 503 when capture is
not running.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Annotated, Literal, cast, get_args

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bus import AsyncRequester, BusError, RemoteError
from bus.codec import encode_struct
from bus.messages import CaptureNowArgs, ExcludeRule
from bus.ops import CaptureOps

CaptureAction = Literal["pause", "resume", "now"]
ACTIONS: frozenset[str] = frozenset(get_args(CaptureAction))
_STATE_OPS = {"pause": CaptureOps.PAUSE, "resume": CaptureOps.RESUME}
_GLOB = re.compile(r"([*?\[])")


class ExcludeApp(msgspec.Struct):
    """The body of ``POST /actions/capture/exclude``: the app (a window class) never to record."""

    app: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


def app_rule(app: str) -> ExcludeRule:
    """A rule for exactly ``app``: ``*``, ``?`` and ``[`` in the name match only themselves."""
    return ExcludeRule(app=_GLOB.sub(r"[\1]", app))


async def _call(capture: AsyncRequester, action: CaptureAction) -> msgspec.Struct:
    if action == "now":
        return await capture.call(CaptureOps.CAPTURE_NOW, CaptureNowArgs())
    return await capture.call(_STATE_OPS[action])


async def _exclude(capture: AsyncRequester, app: str) -> msgspec.Struct:
    return await capture.call(CaptureOps.ADD_EXCLUDE, app_rule(app))


def capture_routes(capture: AsyncRequester) -> list[Route]:
    """The routes that relay the dashboard's capture buttons to the capture process."""

    async def exclude_app(request: Request) -> JSONResponse:
        try:
            body = msgspec.json.decode(await request.body(), type=ExcludeApp)
        except msgspec.DecodeError as exc:  # ValidationError is one too
            return JSONResponse({"error": f"expected {{'app': <name>}}: {exc}"}, status_code=422)
        return await _answer(_exclude(capture, body.app))

    async def capture_action(request: Request) -> JSONResponse:
        action: str = request.path_params["action"]
        if action not in ACTIONS:
            choices = ", ".join(sorted(ACTIONS | {"exclude"}))
            return JSONResponse({"error": f"no action {action!r}; {choices}"}, status_code=422)
        return await _answer(_call(capture, cast(CaptureAction, action)))

    return [  # exclude before {action}, which would take "exclude"
        Route("/actions/capture/exclude", exclude_app, methods=["POST"]),
        Route("/actions/capture/{action}", capture_action, methods=["POST"]),
    ]


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
