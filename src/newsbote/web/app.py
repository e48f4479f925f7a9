"""The web app: the built-in board, health and metrics.

Pages are server-rendered with Jinja2 (autoescaped); post bodies were
sanitized when parsed, their URLs pass the URL policy again when shown, and
every response, errors included, carries a Content-Security-Policy that forbids
scripts, so even a sanitizer bug could not run code in a reader's browser.

A request that names a host outside ``[web] allowed_hosts`` is refused (400),
so a hostile page cannot reach the board through DNS rebinding; a request the
board cannot answer gets a page in the board's language (400 or 404), never a
traceback.
"""

from __future__ import annotations

import ipaddress
import math
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi import Path as PathParameter
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsbote import __version__
from newsbote import metrics as metrics_collector
from newsbote.config import Config
from newsbote.enrich import make_teaser
from newsbote.render import format_date
from newsbote.render.markup import police_html
from newsbote.store import Store
from newsbote.store.board import get_post, list_posts, post_id_by_key
from newsbote.urls import web_url
from newsbote.web.i18n import words

HERE = Path(__file__).parent
MORE_LINK_START = '<p class="newsbote-more">'
CSP = (
    "default-src 'none'; img-src * data:; style-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
MAX_PAGE = 2**31 - 1
"""Beyond any board (and still an OFFSET every database takes)."""
MAX_ID = 2**63 - 1
"""The largest id a post can have (a signed 64-bit integer)."""
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def without_more_link(body: str) -> str:
    """``body`` without its "zum Artikel…" paragraphs, in one pass (no regex search that
    rescans the rest of the body for every opening it finds)."""
    parts: list[str] = []
    position = 0
    while (start := body.find(MORE_LINK_START, position)) >= 0:
        end = body.find("</p>", start + len(MORE_LINK_START))
        if end < 0:
            break  # no closing tag after this one: none after any later one either
        parts.append(body[position:start])
        position = end + len("</p>")
    parts.append(body[position:])
    return "".join(parts)


def default_allowed_hosts(bind_host: str) -> list[str]:
    """The host the server binds to, as a ``Host`` header names it, and the loopback names."""
    try:
        literal = ipaddress.ip_address(bind_host.strip("[]"))
    except ValueError:
        named = bind_host.lower()
    else:
        named = f"[{literal}]" if literal.version == 6 else str(literal)
    return list(dict.fromkeys([named, *LOCAL_HOSTS]))


def allowed_hosts(config: Config) -> list[str]:
    """``[web] allowed_hosts``, or the default when the setting is not given."""
    configured = config.web.allowed_hosts
    if configured is None:
        return default_allowed_hosts(config.web.host)
    return [host.strip().lower() for host in configured]


class SecurityHeaders:
    """Adds the security headers to every response that passes through it, errors included.

    (A pure ASGI middleware: it wraps ``send``, so it sees the 404s of the router, the
    400s of the host check and the responses of the exception handlers alike.)
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_secured)


def create_app(config: Config, store: Store) -> FastAPI:
    """The ASGI app for ``config`` reading from ``store``."""
    app = FastAPI(title="newsbote", version=__version__, docs_url="/api/docs", redoc_url=None)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["date"] = lambda value: format_date(value, config.language)
    # bodies stored before the URL policy existed pass it here
    templates.env.filters["safe_html"] = lambda body: Markup(police_html(body))  # noqa: S704
    templates.env.filters["web_url"] = web_url
    templates.env.filters["excerpt"] = lambda body: make_teaser(without_more_link(body), 280)
    registry = CollectorRegistry(auto_describe=True)
    registry.register(metrics_collector.Collector())
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    boards = [d.name for d in config.destinations if d.kind == "board"]
    board_name = boards[0] if boards else "board"
    board_title = next(
        (
            str((d.model_extra or {}).get("title") or "")
            for d in config.destinations
            if d.name == board_name
        ),
        "",
    )
    t = words(config.language)
    common = {
        "bot": config.bot,
        "t": t,
        "lang": config.language,
        "board_title": board_title or t["board"],
    }

    def error_page(request: Request, status: int) -> Response:
        """A page in the board's language for a request it cannot answer."""
        message = {400: t["bad_request"], 404: t["page_not_found"]}.get(status, t["error"])
        return templates.TemplateResponse(
            request, "error.html", {**common, "message": message}, status_code=status
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        response = error_page(request, exc.status_code)
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        # a path that does not name a thread is a page that does not exist; a bad query, a bad request
        in_path = any(error.get("loc", ("",))[0] == "path" for error in exc.errors())
        return error_page(request, 404 if in_path else 400)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        # Starlette answers from outside every middleware here: the headers are set by hand
        response = error_page(request, 500)
        response.headers.update(SECURITY_HEADERS)
        return response

    app.add_middleware(
        TrustedHostMiddleware, allowed_hosts=allowed_hosts(config), www_redirect=False
    )
    app.add_middleware(SecurityHeaders)  # added last: the outermost, around the host check too

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def board(
        request: Request, page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1
    ) -> Response:
        size = config.web.page_size
        posts, total = await store.read(list_posts, board_name, page, size)
        pages = max(1, math.ceil(total / size))
        if page > pages:
            raise HTTPException(404)
        return templates.TemplateResponse(
            request,
            "board.html",
            {**common, "posts": posts, "page": page, "pages": pages, "total": total},
        )

    @app.get("/t/{post_id}", response_class=HTMLResponse, include_in_schema=False)
    async def thread(
        request: Request, post_id: Annotated[int, PathParameter(ge=1, le=MAX_ID)]
    ) -> Response:
        post = await store.read(get_post, post_id)
        if post is None:
            return templates.TemplateResponse(request, "missing.html", common, status_code=404)
        return templates.TemplateResponse(request, "thread.html", {**common, "post": post})

    @app.get("/p/{key}", include_in_schema=False)
    async def post_by_key(request: Request, key: str) -> Response:
        """A post by its ledger key, the remote URL its delivery recorded."""
        post_id = await store.read(post_id_by_key, key)
        if post_id is None:
            return templates.TemplateResponse(request, "missing.html", common, status_code=404)
        return RedirectResponse(f"/t/{post_id}", status_code=303)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        try:
            await store.read(lambda connection: connection.execute(text("SELECT 1")))
        except Exception as exc:
            return JSONResponse({"status": "error", "error": type(exc).__name__}, status_code=503)
        return JSONResponse({"status": "ok", "version": __version__})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
