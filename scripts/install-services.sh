#!/usr/bin/env bash
# System services the tests use beyond the machine's own (PostgreSQL, MariaDB):
# a real WordPress (Debian's package, served by Apache with mod_php, on MariaDB). Needs root and
# Debian's package registry; `.ci/run` calls it, `make test` does not (the
# WordPress tests skip with a notice where it is missing).
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
  echo "install-services: needs root (apt-get); skipping" >&2
  exit 0
fi
if ! dpkg -s wordpress php-cli php-mysql apache2 libapache2-mod-php >/dev/null 2>&1; then
  # daemons must not start from the package scripts: the tests start what they need
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    wordpress php-cli php-mysql apache2 libapache2-mod-php >/dev/null
fi
# Debian's WordPress reads /etc/wordpress/config-<host>.php; the tests serve it on
# 127.0.0.1 and name their own database in NEWSBOTE_WP_DB.
cat > /etc/wordpress/config-127.0.0.1.php <<'PHP'
<?php
define('DB_NAME', getenv('NEWSBOTE_WP_DB') ?: 'newsbote_wordpress');
define('DB_USER', 'root');
define('DB_PASSWORD', '');
define('DB_HOST', '127.0.0.1');
define('WP_CONTENT_DIR', getenv('NEWSBOTE_WP_CONTENT') ?: '/var/lib/wordpress/wp-content');
define('WP_ENVIRONMENT_TYPE', 'local'); // application passwords over plain http
define('WP_HOME', 'http://' . $_SERVER['HTTP_HOST']);
define('WP_SITEURL', 'http://' . $_SERVER['HTTP_HOST']);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('DISABLE_WP_CRON', true);
PHP
# MariaDB is the machine's; start it if it is not running
if ! mariadb -h 127.0.0.1 -u root -e 'SELECT 1' >/dev/null 2>&1; then
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  for _ in $(seq 30); do mariadb -h 127.0.0.1 -u root -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 1; done
fi
echo "install-services: WordPress $(dpkg-query -W -f='${Version}' wordpress) ready"
