"""The web app: the built-in board, health and metrics.

Pages are server-rendered with Jinja2 (autoescaped); post bodies were
sanitized when parsed and are served under a Content-Security-Policy that
forbids scripts, so even a sanitizer bug could not run code in a reader's browser.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text

from newsbote import __version__
from newsbote import metrics as metrics_collector
from newsbote.config import Config
from newsbote.enrich import make_teaser
from newsbote.render import format_date
from newsbote.store import Store
from newsbote.store.board import get_post, list_posts, post_id_by_key
from newsbote.web.i18n import words

HERE = Path(__file__).parent
MORE_LINK = re.compile(r'<p class="newsbote-more">.*?</p>', re.S)
CSP = (
    "default-src 'none'; img-src * data:; style-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


def create_app(config: Config, store: Store) -> FastAPI:
    """The ASGI app for ``config`` reading from ``store``."""
    app = FastAPI(title="newsbote", version=__version__, docs_url="/api/docs", redoc_url=None)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["date"] = lambda value: format_date(value, config.language)
    templates.env.filters["safe_html"] = Markup
    templates.env.filters["excerpt"] = lambda body: make_teaser(MORE_LINK.sub("", body), 280)
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
    common = {
        "bot": config.bot,
        "t": words(config.language),
        "lang": config.language,
        "board_title": board_title or words(config.language)["board"],
    }

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def board(request: Request, page: int = 1) -> Response:
        size = config.web.page_size
        posts, total = await store.read(list_posts, board_name, max(page, 1), size)
        pages = max(1, math.ceil(total / size))
        if page < 1 or page > pages:
            raise HTTPException(404)
        return templates.TemplateResponse(
            request,
            "board.html",
            {**common, "posts": posts, "page": page, "pages": pages, "total": total},
        )

    @app.get("/t/{post_id}", response_class=HTMLResponse, include_in_schema=False)
    async def thread(request: Request, post_id: int) -> Response:
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
