"""The dashboard's capture buttons: ``POST /actions/capture/{pause,resume,now}`` → capture.sock.

Wire it into the app with ``app.include_router(capture_router(AsyncRequester(endpoints.capture)))``.
Answers: 200 with the op's result (the new ``capture.status`` for pause/resume, ``{kept, skipped}``
for now); 409 with ``{"error"}`` when capture refuses (e.g. no display); 503 when capture is not
running.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from bus import AsyncRequester, BusError, RemoteError
from bus.codec import encode_struct
from bus.messages import CaptureNowArgs
from bus.ops import CaptureOps

CaptureAction = Literal["pause", "resume", "now"]
_STATE_OPS = {"pause": CaptureOps.PAUSE, "resume": CaptureOps.RESUME}


async def _call(capture: AsyncRequester, action: CaptureAction) -> msgspec.Struct:
    if action == "now":
        return await capture.call(CaptureOps.CAPTURE_NOW, CaptureNowArgs())
    return await capture.call(_STATE_OPS[action])


def capture_router(capture: AsyncRequester) -> APIRouter:
    """The routes that relay the dashboard's capture buttons to the capture process."""
    router = APIRouter()

    @router.post("/actions/capture/{action}")
    async def capture_action(action: CaptureAction) -> JSONResponse:
        try:
            result = await _call(capture, action)
        except RemoteError as exc:
            return JSONResponse({"error": exc.message}, status_code=409)
        except BusError as exc:
            return JSONResponse({"error": f"capture is not running: {exc}"}, status_code=503)
        return JSONResponse(msgspec.json.decode(encode_struct(result)))

    return router
