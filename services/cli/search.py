"""``ctxbus search "words" [--app X] [--limit N] [--json]``: captures whose text matches.

Asks main where the backend is (``get_port``: base URL and token), then ``GET /api/search`` with
httpx. For people: one block per hit, newest and best first: time, app and title, the snippet
with the matched words in bold, and the image's URL (the backend's; it needs the token that
``ctxbus port --json`` prints). ``--json``: the API's answer as is.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from bus import BusTimeout
from bus.ops import MainOps
from services.cli.commands import not_running
from services.cli.context import Context
from services.foundation.lean import allow_tls

SEARCH_TIMEOUT = 10.0  # seconds for the backend's answer
_MARK = re.compile(r"<mark>(.*?)</mark>", re.DOTALL)

if TYPE_CHECKING:
    import httpx


def cmd_search(ctx: Context, query: str, app: str | None, limit: int) -> int:
    allow_tls()  # httpx imports ssl; the CLI keeps OpenSSL out until then
    import httpx  # here: `ctxbus up` (the launcher) shares this parser and never searches

    try:
        info = ctx.control().call(MainOps.GET_PORT)
    except BusTimeout as exc:
        return not_running(ctx, exc)
    params: dict[str, str | int] = {"q": query, "limit": limit}
    if app:
        params["app"] = app
    headers = {"Authorization": f"Bearer {info.token}"}
    try:
        with httpx.Client(base_url=info.base_url, headers=headers, timeout=SEARCH_TIMEOUT) as http:
            answer = http.get("/api/search", params=params)
    except httpx.HTTPError as exc:
        ctx.out.error(f"cannot reach the backend at {info.base_url} ({exc}); see `ctxbus status`")
        return 1
    if answer.status_code != 200:
        ctx.out.error(f"search failed: {_message(answer)}")
        return 1
    page: dict[str, Any] = answer.json()
    if ctx.out.json_mode:
        ctx.out.data(page)
        return 0
    _print_hits(ctx, query, page["items"], info.base_url)
    return 0


def _print_hits(ctx: Context, query: str, hits: list[dict[str, Any]], base_url: str) -> None:
    from rich.markup import escape

    if not hits:
        ctx.out.say(f"nothing found for {escape(repr(query))}")
        return
    for hit in hits:
        capture = hit["capture"]
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(capture["captured_at"]))
        window = " — ".join(
            escape(part) for part in (capture.get("app"), capture.get("title")) if part
        )
        ctx.out.say(f"[bold]{when}[/bold]  {window or '[dim](app unknown)[/dim]'}")
        ctx.out.say(f"  {snippet_markup(hit['snippet'])}")
        ctx.out.say(f"  {escape(base_url + capture['image_url'])}")


def snippet_markup(snippet: str) -> str:
    """The API's HTML snippet as rich markup: the ``<mark>``ed words bold, the rest literal."""
    import html  # here: its entity tables (0.5 MB) stay out of the launcher, which imports this

    from rich.markup import escape

    parts: list[str] = []
    last = 0
    for match in _MARK.finditer(snippet):
        parts.append(escape(html.unescape(snippet[last : match.start()])))
        parts.append(f"[bold]{escape(html.unescape(match.group(1)))}[/bold]")
        last = match.end()
    parts.append(escape(html.unescape(snippet[last:])))
    return "".join(parts)


def _message(answer: httpx.Response) -> str:
    try:
        error = answer.json()["error"]
        return f"{error['message']} (HTTP {answer.status_code})"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {answer.status_code}"
