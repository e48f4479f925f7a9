"""Running the service with its web server in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Generator

import uvicorn

from newsbote.config import LoadedConfig
from newsbote.errors import NewsboteError
from newsbote.processes import serve_as_helper
from newsbote.store import Store
from newsbote.web.app import create_app
from newsbote.worker import Service

log = logging.getLogger("newsbote.worker")


class _WebServer(uvicorn.Server):
    """uvicorn without its own signal handling: the service owns Ctrl-C."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def web_server(loaded: LoadedConfig, store: Store, port: int | None = None) -> _WebServer:
    web = loaded.config.web
    config = uvicorn.Config(
        create_app(loaded.config, store),
        host=web.host,
        port=web.port if port is None else port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    return _WebServer(config)


def listen(host: str, port: int, what: str) -> socket.socket:
    """A listening socket, or a clear error naming the address and the setting to change."""
    try:
        return socket.create_server((host, port), reuse_port=False)
    except OSError as exc:
        raise NewsboteError(
            f"cannot listen on {host}:{port} for {what}: {exc.strerror or exc}"
        ) from exc


async def serve(
    loaded: LoadedConfig,
    store: Store,
    *,
    on_ready: str | None = None,
    web_app: bool = True,
    poll: bool = True,
    helper: bool = False,
) -> None:
    """Poll, deliver and serve the web app until SIGINT or SIGTERM (a worker: no web app).

    The service (``web_app``) starts ``[service] processes - 1`` helper processes; a
    ``helper`` is one of them.
    """
    web = loaded.config.web
    enabled = web.enabled and web_app
    sock = listen(web.host, web.port, "the web server ([web] port)") if enabled else None
    processes = loaded.config.service.processes if web_app else 1
    async with Service(loaded, store, processes=processes, polls_when_woken=helper) as service:
        server = web_server(loaded, store) if sock is not None else None

        def stop() -> None:
            log.info("stopping: finishing polls and deliveries in flight")
            service.stop()
            if server is not None:
                server.should_exit = True

        async def run_service() -> None:
            try:
                await service.run_forever(poll=poll)
            finally:  # however the service ended (a helper that could not start), so does the web
                if server is not None:
                    server.should_exit = True

        tasks = [run_service()]
        if server is not None and sock is not None:
            tasks.append(server.serve(sockets=[sock]))

        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop)
        if helper:
            serve_as_helper(loop, stop, service.wake)
        if on_ready:
            log.info(on_ready)
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, BaseException):  # once the web server stopped, too
                raise result
