"""A real WordPress for the tests: Debian's package, served by PHP on 127.0.0.1, a fresh
MariaDB database per site. ``scripts/install-services.sh`` (run by ``.ci/run``) installs
it; where it is missing the WordPress tests skip with a notice.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.servers import free_port

CONFIG = Path("/etc/wordpress/config-127.0.0.1.php")
WORDPRESS = Path("/usr/share/wordpress")

SETUP = """<?php
$_SERVER['HTTP_HOST'] = '127.0.0.1:%(port)d';
$_SERVER['REQUEST_URI'] = '/';
define('WP_INSTALLING', true);
require '%(root)s/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
wp_install('Testblog', 'redaktion', 'redaktion@example.org', true, '', 'pw-redaktion', 'de_DE');
update_option('permalink_structure', '');
$user = get_user_by('login', 'redaktion');
$made = WP_Application_Passwords::create_new_application_password($user->ID, ['name' => 'newsbote']);
echo json_encode(['user' => 'redaktion', 'password' => $made[0], 'id' => $user->ID]);
"""


def missing() -> str | None:
    """Why no WordPress can run here, or None."""
    if not CONFIG.exists() or not (WORDPRESS / "wp-load.php").exists():
        return "Debian's wordpress package is not set up (scripts/install-services.sh)"
    if shutil.which("php") is None or shutil.which("mariadb") is None:
        return "php or the mariadb client is missing"
    probe = subprocess.run(
        ["mariadb", "-h", "127.0.0.1", "-u", "root", "-e", "SELECT 1"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        return f"MariaDB at 127.0.0.1:3306 refused: {probe.stderr.decode().strip()[:200]}"
    return None


@dataclass
class Site:
    url: str
    user: str
    password: str
    user_id: int

    def api(self, route: str, method: str = "GET", body: Any = None) -> Any:
        """Call the REST API as the site's editor (application password, Basic auth)."""
        credentials = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        separator = "&" if "?" in route else "?"
        path, _, query = route.partition("?")
        request = urllib.request.Request(
            f"{self.url}/?rest_route={path}{separator + query if query else ''}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Basic {credentials}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())


def _sql(statement: str) -> None:
    subprocess.run(["mariadb", "-h", "127.0.0.1", "-u", "root", "-e", statement], check=True)


@contextmanager
def wordpress(directory: Path) -> Iterator[Site]:
    database = f"newsbote_wp_{uuid.uuid4().hex[:10]}"
    _sql(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
    port = free_port()
    env = os.environ | {"NEWSBOTE_WP_DB": database, "PHP_CLI_SERVER_WORKERS": "4"}
    setup = directory / "setup.php"
    setup.write_text(SETUP % {"port": port, "root": WORDPRESS})
    made = subprocess.run(["php", str(setup)], env=env, capture_output=True, check=False)
    if made.returncode != 0:
        _sql(f"DROP DATABASE IF EXISTS `{database}`")
        raise RuntimeError(
            f"WordPress setup failed: {(made.stdout + made.stderr).decode()[-2000:]}"
        )
    answer = json.loads(made.stdout.decode().strip().splitlines()[-1])
    log = (directory / "php.log").open("wb")
    server = subprocess.Popen(
        ["php", "-S", f"127.0.0.1:{port}", "-t", str(WORDPRESS)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/?rest_route=/", timeout=5).close()
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("WordPress did not answer within 30 s") from None
                time.sleep(0.2)
        yield Site(url, answer["user"], answer["password"], int(answer["id"]))
    finally:
        server.terminate()
        server.wait(10)
        log.close()
        _sql(f"DROP DATABASE IF EXISTS `{database}`")
