"""A real Synapse homeserver for the tests: SQLite, 127.0.0.1 only, no federation.

``make test`` installs Synapse into its own virtual environment (``.synapse/``);
without it the Matrix tests skip with a notice, unless
``NEWSBOTE_REQUIRE_SERVICES=1`` (set by ``.ci/run``) turns the skip into a failure.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
SHARED_SECRET = "newsbote-test-registration"


def synapse_python() -> Path | None:
    configured = os.environ.get("NEWSBOTE_SYNAPSE_PYTHON")
    candidate = Path(configured) if configured else ROOT / ".synapse" / "bin" / "python"
    return candidate if candidate.exists() else None


CONFIG = """\
server_name: "localhost"
pid_file: "{dir}/homeserver.pid"
public_baseurl: "http://127.0.0.1:{port}/"
listeners:
  - port: {port}
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: "{dir}/homeserver.db"
log_config: "{dir}/log.yaml"
media_store_path: "{dir}/media"
signing_key_path: "{dir}/signing.key"
registration_shared_secret: "{secret}"
macaroon_secret_key: "{macaroon}"
form_secret: "{form}"
report_stats: false
enable_metrics: false
trusted_key_servers: []
suppress_key_server_warning: true
federation_domain_whitelist: []
presence:
  enabled: false
url_preview_enabled: false
rc_message: {{per_second: 10000, burst_count: 10000}}
rc_registration: {{per_second: 10000, burst_count: 10000}}
rc_login:
  address: {{per_second: 10000, burst_count: 10000}}
  account: {{per_second: 10000, burst_count: 10000}}
  failed_attempts: {{per_second: 10000, burst_count: 10000}}
rc_joins:
  local: {{per_second: 10000, burst_count: 10000}}
rc_admin_redaction: {{per_second: 10000, burst_count: 10000}}
"""

LOG = """\
version: 1
formatters:
  plain: {format: "%(asctime)s %(levelname)s %(name)s %(message)s"}
handlers:
  file: {class: logging.FileHandler, filename: "DIR/homeserver.log", formatter: plain}
root: {level: WARNING, handlers: [file]}
disable_existing_loggers: false
"""


def call(
    url: str, method: str = "GET", body: Any = None, token: str | None = None
) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Bearer {token}"} if token else {}),
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read() or b"{}")
        return answer


@dataclass
class Homeserver:
    url: str
    directory: Path
    process: subprocess.Popen[bytes]

    def register(self, user: str, *, admin: bool = False) -> str:
        """A new user by shared-secret registration; returns their access token."""
        nonce = call(f"{self.url}/_synapse/admin/v1/register")["nonce"]
        password = secrets.token_hex(8)
        mac = hmac.new(
            SHARED_SECRET.encode(),
            b"\x00".join(
                [
                    nonce.encode(),
                    user.encode(),
                    password.encode(),
                    b"admin" if admin else b"notadmin",
                ]
            ),
            hashlib.sha1,
        ).hexdigest()
        answer = call(
            f"{self.url}/_synapse/admin/v1/register",
            "POST",
            {"nonce": nonce, "username": user, "password": password, "admin": admin, "mac": mac},
        )
        return str(answer["access_token"])

    def create_room(self, token: str, *, invite: list[str] = ()) -> str:  # type: ignore[assignment]
        answer = call(
            f"{self.url}/_matrix/client/v3/createRoom",
            "POST",
            {"preset": "public_chat", "invite": list(invite)},
            token,
        )
        return str(answer["room_id"])

    def join(self, token: str, room: str) -> None:
        call(f"{self.url}/_matrix/client/v3/join/{quote(room)}", "POST", {}, token)

    def messages(self, token: str, room: str) -> list[dict[str, Any]]:
        """Every m.room.message event in ``room``, oldest first."""
        events: list[dict[str, Any]] = []
        start = ""
        while True:
            page = call(
                f"{self.url}/_matrix/client/v3/rooms/{quote(room)}/messages"
                f"?dir=f&limit=1000{'&from=' + start if start else ''}",
                token=token,
            )
            events += [e for e in page.get("chunk", []) if e["type"] == "m.room.message"]
            if not page.get("end") or not page.get("chunk"):
                return events
            start = page["end"]


@contextmanager
def homeserver(directory: Path) -> Iterator[Homeserver]:
    python = synapse_python()
    if python is None:
        raise FileNotFoundError("Synapse is not installed (.synapse/)")
    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "homeserver.yaml"
    config.write_text(
        CONFIG.format(
            dir=directory,
            port=port,
            secret=SHARED_SECRET,
            macaroon=secrets.token_hex(16),
            form=secrets.token_hex(16),
        )
    )
    (directory / "log.yaml").write_text(LOG.replace("DIR", str(directory)))
    command = [str(python), "-m", "synapse.app.homeserver", "-c", str(config)]
    subprocess.run([*command, "--generate-keys"], check=True, capture_output=True)
    errors = directory / "stderr.log"
    with errors.open("wb") as sink:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=sink)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"Synapse exited: {errors.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2).close()
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise TimeoutError("Synapse did not start within 90 s") from None
                time.sleep(0.3)
        yield Homeserver(url, directory, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
