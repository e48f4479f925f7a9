"""A real WordPress for the tests: Debian's package, served by Apache with mod_php on
127.0.0.1 (a private Apache instance per site, its own config and log), a fresh MariaDB
database per site. ``scripts/install-services.sh`` (run by ``.ci/run``) installs it;
where it is missing the WordPress tests skip with a notice.
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
APACHE = Path("/usr/sbin/apache2")
MODULES = Path("/usr/lib/apache2/modules")

APACHE_CONFIG = """\
ServerRoot {dir}
PidFile {dir}/apache2.pid
Listen 127.0.0.1:{port}
ServerName 127.0.0.1
LoadModule mpm_prefork_module {modules}/mod_mpm_prefork.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule dir_module {modules}/mod_dir.so
LoadModule mime_module {modules}/mod_mime.so
LoadModule env_module {modules}/mod_env.so
LoadModule php_module {modules}/libphp8.2.so
{user}
ErrorLog {dir}/error.log
TypesConfig /etc/mime.types
StartServers 2
MinSpareServers 2
MaxSpareServers 4
DocumentRoot {root}
DirectoryIndex index.php
SetEnv NEWSBOTE_WP_DB {database}
<FilesMatch "\\.php$">
  SetHandler application/x-httpd-php
</FilesMatch>
<Directory {root}>
  Require all granted
</Directory>
"""

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
    if not APACHE.exists() or not (MODULES / "libphp8.2.so").exists():
        return "apache2 with mod_php (libapache2-mod-php) is missing"
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
    env = os.environ | {"NEWSBOTE_WP_DB": database}
    setup = directory / "setup.php"
    setup.write_text(SETUP % {"port": port, "root": WORDPRESS})
    made = subprocess.run(["php", str(setup)], env=env, capture_output=True, check=False)
    if made.returncode != 0:
        _sql(f"DROP DATABASE IF EXISTS `{database}`")
        raise RuntimeError(
            f"WordPress setup failed: {(made.stdout + made.stderr).decode()[-2000:]}"
        )
    answer = json.loads(made.stdout.decode().strip().splitlines()[-1])
    config = directory / "apache2.conf"
    config.write_text(
        APACHE_CONFIG.format(
            dir=directory, port=port, modules=MODULES, root=WORDPRESS, database=database,
            # as root Apache must hand its workers to an unprivileged user
            user="User www-data\nGroup www-data" if os.geteuid() == 0 else "",
        )
    )  # fmt: skip
    directory.chmod(0o755)
    apache = [str(APACHE), "-f", str(config)]
    subprocess.run([*apache, "-k", "start"], env=env, check=True, capture_output=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/?rest_route=/", timeout=5).close()
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    log = (directory / "error.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"WordPress did not answer within 30 s: {log}") from None
                time.sleep(0.2)
        yield Site(url, answer["user"], answer["password"], int(answer["id"]))
    finally:
        subprocess.run([*apache, "-k", "stop"], env=env, check=False, capture_output=True)
        pid = directory / "apache2.pid"
        deadline = time.monotonic() + 10
        while pid.exists() and time.monotonic() < deadline:  # stop returns before the workers end
            time.sleep(0.1)
        _sql(f"DROP DATABASE IF EXISTS `{database}`")
