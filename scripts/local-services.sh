#!/usr/bin/env bash
# Makes sure the servers the test suite talks to are up on this machine:
#   NATS with JetStream  127.0.0.1:4222
#   MariaDB              127.0.0.1:3306  (root, empty password)
#   PostgreSQL           127.0.0.1:5432  (trust for 127.0.0.1)
# and Debian's chromium, which the console's browser test drives (tests/e2e/console.test.ts).
# A server that already answers is left alone; one that is stopped is started; one that is
# missing is installed from Debian's packages first. Idempotent; run as root on Debian 12.
#
# Environment:
#   SISPORTA_EXTERNAL_SERVICES  services run elsewhere (e.g. CI service containers), from
#                               "nats mariadb postgres": only waited for, never installed or
#                               started here (their client tools are still installed if missing)
#   SISPORTA_SERVICES_TIMEOUT   seconds to wait for each service (default 60)
set -euo pipefail

TIMEOUT="${SISPORTA_SERVICES_TIMEOUT:-60}"
EXTERNAL="${SISPORTA_EXTERNAL_SERVICES:-}"
EXTERNAL=" ${EXTERNAL//,/ } "
export DEBIAN_FRONTEND=noninteractive

say() { printf '%-10s %s\n' "$1:" "$2"; }
die() { say "$1" "FAILED: $2" >&2; exit 1; }
is_external() { [[ "$EXTERNAL" == *" $1 "* ]]; }

if [[ $EUID -ne 0 ]]; then
  echo "local-services: must run as root (it may install and start servers)" >&2
  exit 1
fi

APT_UPDATED=0
apt_install() {
  if [[ $APT_UPDATED -eq 0 ]]; then
    apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  apt-get install -y -qq "$@" >/dev/null
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# wait_for [--pidfile FILE] CHECK...: runs CHECK every half second until it succeeds or TIMEOUT
# seconds pass; with --pidfile, gives up as soon as the process we started has died.
wait_for() {
  local pidfile=""
  if [[ "$1" == --pidfile ]]; then pidfile="$2"; shift 2; fi
  local deadline=$((SECONDS + TIMEOUT))
  until "$@"; do
    if ((SECONDS >= deadline)); then return 1; fi
    if [[ -n "$pidfile" ]] && ! start-stop-daemon --status --pidfile "$pidfile"; then return 1; fi
    sleep 0.5
  done
}

log_tail() { [[ -f "$1" ]] && tail -n 15 "$1" | sed 's/^/    /' >&2 || true; }

# --- NATS ------------------------------------------------------------------------------------

NATS_DIR=/var/lib/nats-server
NATS_LOG=/var/log/nats-server.log
NATS_CONF=$NATS_DIR/sisporta.conf
NATS_CONSOLE=/var/log/nats-server.console.log

# The server greets every connection with an INFO line; JetStream must be on.
nats_info() { timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/4222 && IFS= read -r -t 2 line <&3 && printf "%s" "$line"' 2>/dev/null; }
nats_up() { [[ "$(nats_info)" == INFO* ]]; }

ensure_nats() {
  local how="started"
  if nats_up; then
    say nats "already running"
  elif is_external nats; then
    wait_for nats_up || die nats "nothing answers on 127.0.0.1:4222 after ${TIMEOUT}s (external service)"
    say nats "ready (external)"
  else
    if [[ ! -x /usr/sbin/nats-server ]]; then
      apt_install nats-server
      how="installed+started"
    fi
    mkdir -p "$NATS_DIR"
    touch "$NATS_LOG"
    # JetStream's defaults are 75% of RAM and of the free disk at start-up: on a nearly full
    # disk that leaves too little to create test streams, so the limits are set explicitly.
    cat >"$NATS_CONF" <<EOF
jetstream {
  max_memory_store: 16GB
  max_file_store: 1TB
}
EOF
    local watch=()
    if ! port_open 4222; then
      # Our own pidfile: a nats-server that a test spawned on another port must not count.
      start-stop-daemon --start --oknodo --background --make-pidfile --pidfile /run/sisporta-nats.pid \
        --output "$NATS_CONSOLE" --exec /usr/sbin/nats-server -- -c "$NATS_CONF" -a 127.0.0.1 -p 4222 -js -sd "$NATS_DIR" -l "$NATS_LOG"
      watch=(--pidfile /run/sisporta-nats.pid)
    fi
    if ! wait_for "${watch[@]}" nats_up; then
      log_tail "$NATS_CONSOLE"; log_tail "$NATS_LOG"
      die nats "did not answer on 127.0.0.1:4222 within ${TIMEOUT}s (logs: $NATS_CONSOLE, $NATS_LOG)"
    fi
    say nats "$how"
  fi
  [[ "$(nats_info)" == *'"jetstream":true'* ]] ||
    die nats "the server on 127.0.0.1:4222 runs without JetStream (restart it with -js)"
}

# --- MariaDB ---------------------------------------------------------------------------------

MARIADB_LOG=/var/log/mysql/mariadbd-console.log

mariadb_up() { mariadb -h127.0.0.1 -P3306 -uroot -e 'select 1' >/dev/null 2>&1; }
# Over the unix socket root logs in by unix_socket auth, whatever its TCP password is.
mariadb_socket_up() { mariadb -uroot -e 'select 1' >/dev/null 2>&1; }

# Lets root log in over TCP with an empty password, keeping socket auth for local root.
mariadb_open_root() {
  mariadb -uroot <<'SQL'
ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket;
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL
}

ensure_mariadb() {
  command -v mariadb >/dev/null || apt_install mariadb-client
  local how="started"
  if mariadb_up; then
    say mariadb "already running"
    return
  fi
  if is_external mariadb; then
    wait_for mariadb_up ||
      die mariadb "root cannot log in on 127.0.0.1:3306 after ${TIMEOUT}s (external service)"
    say mariadb "ready (external)"
    return
  fi
  if [[ ! -x /usr/sbin/mariadbd ]]; then
    apt_install mariadb-server
    how="installed+started"
  fi
  if [[ ! -d /var/lib/mysql/mysql ]]; then
    mkdir -p /var/lib/mysql
    chown mysql:mysql /var/lib/mysql
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
  fi
  install -d -o mysql -g mysql /run/mysqld /var/log/mysql
  local watch=()
  if ! port_open 3306; then
    # mariadbd refuses to run as root; --output keeps its start-up errors.
    start-stop-daemon --start --oknodo --background --make-pidfile --pidfile /run/mysqld/sisporta.pid \
      --output "$MARIADB_LOG" --exec /usr/sbin/mariadbd -- --user=mysql
    watch=(--pidfile /run/mysqld/sisporta.pid)
  elif [[ $how == started ]]; then
    how="running" # up, but root could not log in over TCP
  fi
  if ! wait_for "${watch[@]}" mariadb_socket_up; then
    log_tail "$MARIADB_LOG"; log_tail /var/log/mysql/error.log
    die mariadb "did not come up within ${TIMEOUT}s (logs: $MARIADB_LOG, /var/log/mysql/error.log)"
  fi
  if ! mariadb_up; then
    mariadb_open_root || die mariadb "could not let root log in over TCP without a password"
    how="$how, root opened for TCP"
  fi
  wait_for mariadb_up ||
    die mariadb "root cannot log in on 127.0.0.1:3306 (mariadb -h127.0.0.1 -uroot fails)"
  say mariadb "$how"
}

# --- PostgreSQL ------------------------------------------------------------------------------

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432; }
pg_sql() { psql -w -X -q -h 127.0.0.1 -p 5432 -U postgres -d postgres -tA "$@"; }
pg_trusted() { pg_sql -c 'select 1' >/dev/null 2>&1; }

# Local test code connects as postgres or as root (the OS user): make sure both roles exist.
pg_roles() {
  if [[ -z "$(pg_sql -c "select 1 from pg_roles where rolname = 'root'")" ]]; then
    pg_sql -c 'create role root superuser login' >/dev/null
  fi
  if [[ -z "$(pg_sql -c "select 1 from pg_database where datname = 'root'")" ]]; then
    pg_sql -c 'create database root owner root' >/dev/null
  fi
}

# Adds trust rules for loopback TCP ahead of the others (first match wins); prints "changed".
pg_trust_loopback() {
  local hba="$1"
  if ! grep -Eq '^\s*host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$hba"; then
    { printf '# sisporta tests: trust loopback TCP\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n'
      cat "$hba"; } >"$hba.new"
    chown --reference="$hba" "$hba.new"; chmod --reference="$hba" "$hba.new"
    mv "$hba.new" "$hba"
    echo changed
  fi
}

ensure_postgres() {
  command -v pg_isready >/dev/null || apt_install postgresql-client
  local how="started"
  if pg_up && pg_trusted; then
    say postgres "already running"
    pg_roles
    return
  fi
  if is_external postgres; then
    wait_for pg_up || die postgres "nothing answers on 127.0.0.1:5432 after ${TIMEOUT}s (external service)"
    wait_for pg_trusted || die postgres "user postgres cannot log in without a password on 127.0.0.1:5432"
    pg_roles
    say postgres "ready (external)"
    return
  fi
  if ! command -v pg_ctlcluster >/dev/null || [[ -z "$(ls /etc/postgresql 2>/dev/null)" ]]; then
    apt_install postgresql
    how="installed+started"
  fi
  local version
  version="$(ls /etc/postgresql | sort -V | tail -n 1)"
  [[ -d /etc/postgresql/$version/main ]] || pg_createcluster "$version" main >/dev/null
  local changed
  changed="$(pg_trust_loopback "/etc/postgresql/$version/main/pg_hba.conf")"
  if ! pg_up; then
    pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
      die postgres "pg_ctlcluster could not start cluster $version/main (log: /var/log/postgresql/)"
  elif [[ -n "$changed" ]]; then
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload
    [[ $how == started ]] && how="running"
    how="$how, loopback trust added"
  fi
  wait_for pg_up ||
    die postgres "did not answer on 127.0.0.1:5432 within ${TIMEOUT}s (log: /var/log/postgresql/)"
  wait_for pg_trusted ||
    die postgres "user postgres cannot log in without a password on 127.0.0.1:5432 (check pg_hba.conf)"
  pg_roles
  say postgres "$how"
}

# --- Chromium ---------------------------------------------------------------------------------
# The console's end-to-end test drives it headless through playwright-core, which downloads no
# browser of its own (SISPORTA_CHROMIUM points elsewhere).

ensure_chromium() {
  if [[ -x "${SISPORTA_CHROMIUM:-/usr/bin/chromium}" ]]; then
    say chromium "present"
    return
  fi
  apt_install chromium
  say chromium "installed"
}

ensure_nats
ensure_mariadb
ensure_postgres
ensure_chromium
