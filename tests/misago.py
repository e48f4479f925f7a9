"""A real Misago forum for the tests: Misago 0.39 in its own environment (``.misago/``,
installed by ``make test``), on a fresh database of the CI's PostgreSQL, served by
Django's development server on 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(__file__).resolve().parent / "misago_site"
USER, PASSWORD = "NewsBote", "Ich-bring-die-Post-2026"  # Misago names: letters and digits


def misago_python() -> Path | None:
    configured = os.environ.get("NEWSBOTE_MISAGO_PYTHON")
    candidate = Path(configured) if configured else ROOT / ".misago" / "bin" / "python"
    return candidate if candidate.exists() else None


@dataclass
class Forum:
    url: str
    database: str
    env: dict[str, str]
    category: int = 3  # Misago's "First category"

    def manage(self, *args: str) -> str:
        python = misago_python()
        assert python is not None
        done = subprocess.run(
            [str(python), "-m", "django", *args], env=self.env, capture_output=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"manage {args[0]} failed: {(done.stdout + done.stderr).decode()[-2000:]}"
            )
        return done.stdout.decode()

    def threads(self) -> list[dict[str, object]]:
        """Every thread with its posts, straight from the database."""
        with psycopg.connect(self.env["MISAGO_DSN"]) as connection:
            rows = connection.execute(
                "SELECT t.id, t.title, t.starter_name, p.original, p.id"
                " FROM misago_threads_thread t JOIN misago_threads_post p ON p.thread_id = t.id"
                " ORDER BY t.id, p.id"
            ).fetchall()
        threads: dict[int, dict[str, object]] = {}
        for thread_id, title, starter, original, _ in rows:
            entry = threads.setdefault(
                thread_id, {"id": thread_id, "title": title, "starter": starter, "posts": []}
            )
            posts = entry["posts"]
            assert isinstance(posts, list)
            posts.append(original)
        return list(threads.values())


@contextmanager
def misago(admin_dsn: str, directory: Path) -> Iterator[Forum]:
    python = misago_python()
    if python is None:
        raise FileNotFoundError("Misago is not installed (.misago/)")
    database = f"newsbote_misago_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_dsn, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{database}"')
    base = admin_dsn.rsplit("/", 1)[0]
    port = free_port()
    env = os.environ | {
        "MISAGO_DIR": str(directory),
        "MISAGO_DB": database,
        "MISAGO_DSN": f"{base}/{database}",
        "DJANGO_SETTINGS_MODULE": "settings",
        "PYTHONPATH": str(SITE),
    }
    forum = Forum(f"http://127.0.0.1:{port}", database, env)
    server: subprocess.Popen[bytes] | None = None
    log = (directory / "misago.log").open("wb")
    try:
        forum.manage("migrate", "-v", "0")
        forum.manage("createsuperuser", "--username", USER, "--email", "bote@example.org",
                     "--password", PASSWORD, "--noinput")  # fmt: skip
        server = subprocess.Popen(
            [
                str(python),
                "-m",
                "django",
                "runserver",
                f"127.0.0.1:{port}",
                "--noreload",
                "--nothreading",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{forum.url}/api/threads/", timeout=5).close()
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(
                        f"Misago did not start: {(directory / 'misago.log').read_text()[-2000:]}"
                    ) from None
                time.sleep(0.3)
        yield forum
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        log.close()
        with psycopg.connect(admin_dsn, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
