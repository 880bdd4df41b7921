#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for tests/test_postgres.py and the bench, and print
# the one line a caller evals:
#
#     pg_env="$(bash .ci/setup_postgres.sh)" || exit 1
#     eval "$pg_env"          # sets LIVESESSION_PG_DSN
#
# stdout carries only `export ...` lines; progress and errors go to stderr.
#
# Idempotent: a second run finds the running server and prints the same line. Installs
# PostgreSQL from Debian packages when no server binaries are found (root or sudo, apt).
# The cluster lives in $LIVESESSION_PG_DIR (default /tmp/livesession-pg), is owned by
# a non-root user (postgres refuses to run as root), listens on 127.0.0.1 only, on
# $LIVESESSION_PG_PORT (default 5432, or the next free port when that one is taken),
# and trusts loopback connections: it is for tests, never for data that matters.
#
# The DSN's role and database are $LIVESESSION_PG_ROLE and $LIVESESSION_PG_DATABASE (both
# default to livesession). With $LIVESESSION_PG_PASSWORD set (letters, digits, '_' and '-'),
# the role gets that password, the server checks it (scram-sha-256, that role only) and
# the DSN carries it; progress lines show it as ***. .ci/run uses this to run the
# PostgreSQL tests once more as a user, database and password that are not the default.
# The password never goes on a command line (any user of the machine reads those with ps):
# psql gets it on its standard input (ALTER ROLE) or in PGPASSWORD (the connection check).
#
# $LIVESESSION_PG_BINDIR names the directory of the server binaries (default: the newest
# /usr/lib/postgresql/*/bin, else the directory of the pg_ctl on PATH).
#
#     bash .ci/setup_postgres.sh --stop   # stop the server (the directory stays)
set -euo pipefail

case "${1:-}" in
"" | --stop) ;;
*)
    echo "setup_postgres: error: unknown argument '$1' (use no argument to start, or --stop)" >&2
    exit 2
    ;;
esac

BASE_DIR="$(realpath -m "${LIVESESSION_PG_DIR:-/tmp/livesession-pg}")"
WANT_PORT="${LIVESESSION_PG_PORT:-5432}"
ROLE="${LIVESESSION_PG_ROLE:-livesession}"
DATABASE="${LIVESESSION_PG_DATABASE:-livesession}"
PASSWORD="${LIVESESSION_PG_PASSWORD:-}"
SUPERUSER="postgres"
WAIT_SECONDS=30

DATA_DIR="$BASE_DIR/data"
SOCKET_DIR="$BASE_DIR/socket"
LOG_FILE="$BASE_DIR/server.log"

# The server's tools run as another user, who may not be allowed into the caller's cwd.
cd /

say() { echo "setup_postgres: $*" >&2; }
die() {
    say "error: $*"
    exit 1
}

# --- server binaries ---------------------------------------------------------------------

find_bindir() {
    local dir best=""
    if [ -n "${LIVESESSION_PG_BINDIR:-}" ]; then
        echo "$LIVESESSION_PG_BINDIR"
        return 0
    fi
    # Debian puts each major version in /usr/lib/postgresql/<major>/bin; take the newest.
    # (An unmatched glob stays literal and fails the -x tests below.)
    for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V); do
        if [ -x "$dir/postgres" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            best="$dir"
        fi
    done
    if [ -z "$best" ] && command -v pg_ctl >/dev/null 2>&1; then
        dir="$(dirname "$(readlink -f "$(command -v pg_ctl)")")"
        if [ -x "$dir/postgres" ] && [ -x "$dir/initdb" ]; then
            best="$dir"
        fi
    fi
    echo "$best"
}

install_postgres() {
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "PostgreSQL is not installed and this is not root: install the Debian package 'postgresql' first"
        sudo="sudo"
    fi
    command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and apt-get is missing: install PostgreSQL server binaries (initdb, pg_ctl, postgres)"
    say "installing PostgreSQL from Debian packages"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update >&2
    # Install the cluster tooling first and tell it not to create and start the default
    # "main" cluster: it would take port 5432 and run as a system service we do not own.
    $sudo apt-get install -y --no-install-recommends postgresql-common >&2
    $sudo mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" |
        $sudo tee /etc/postgresql-common/createcluster.d/livesession-no-main.conf >/dev/null
    $sudo apt-get install -y --no-install-recommends postgresql >&2
}

# The names go into SQL and pg_hba.conf unquoted: allow only plain identifiers.
for name in "$ROLE" "$DATABASE"; do
    [[ "$name" =~ ^[a-z_][a-z0-9_]*$ ]] || die "'$name' is not a plain lower-case identifier"
done
[[ "$PASSWORD" =~ ^[A-Za-z0-9_-]*$ ]] ||
    die "LIVESESSION_PG_PASSWORD may hold only letters, digits, '_' and '-'"

BINDIR="$(find_bindir)"
if [ -z "$BINDIR" ]; then
    install_postgres
    BINDIR="$(find_bindir)"
    [ -n "$BINDIR" ] || die "the 'postgresql' package installed no server binaries under /usr/lib/postgresql/*/bin"
fi
say "server binaries: $BINDIR ($("$BINDIR/postgres" --version))"

# --- the non-root user that owns and runs the cluster -----------------------------------

if [ "$(id -u)" -eq 0 ]; then
    RUN_USER="postgres"
    if ! id "$RUN_USER" >/dev/null 2>&1; then
        say "creating system user $RUN_USER"
        useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/sh "$RUN_USER" ||
            die "could not create the system user $RUN_USER"
    fi
else
    RUN_USER="$(id -un)"
fi

as_owner() {
    if [ "$(id -un)" = "$RUN_USER" ]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u "$RUN_USER" -- "$@"
    else
        # su needs one command string: quote every argument.
        su -s /bin/sh "$RUN_USER" -c "$(printf '%q ' "$@")"
    fi
}

# --- ports --------------------------------------------------------------------------------

port_in_use() {
    # bash's /dev/tcp: a successful connect means something already listens there.
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

running_port() {
    # postmaster.pid line 4 is the port of the server running from this data directory.
    if as_owner "$BINDIR/pg_ctl" status -D "$DATA_DIR" >/dev/null 2>&1; then
        sed -n 4p "$DATA_DIR/postmaster.pid"
    fi
}

pick_port() {
    local port="$WANT_PORT" last=$((WANT_PORT + 100))
    while [ "$port" -le "$last" ]; do
        if ! port_in_use "$port"; then
            echo "$port"
            return 0
        fi
        say "port $port is taken, trying the next one"
        port=$((port + 1))
    done
    die "no free port between $WANT_PORT and $last on 127.0.0.1: set LIVESESSION_PG_PORT"
}

psql_super() {
    as_owner "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -p "$PORT" \
        -U "$SUPERUSER" -d postgres "$@"
}

stop_server() {
    if [ -n "$(running_port)" ]; then
        as_owner "$BINDIR/pg_ctl" stop -D "$DATA_DIR" -m fast -w -t "$WAIT_SECONDS" >&2
        say "stopped the server in $DATA_DIR"
    else
        say "no server is running from $DATA_DIR"
    fi
}

if [ "${1:-}" = "--stop" ]; then
    stop_server
    exit 0
fi

# --- cluster -----------------------------------------------------------------------------

mkdir -p "$BASE_DIR"
chmod 755 "$BASE_DIR"
MAJOR="$("$BINDIR/postgres" --version | sed -E 's/^[^0-9]*([0-9]+).*/\1/')"
if [ -s "$DATA_DIR/PG_VERSION" ] && [ "$(cat "$DATA_DIR/PG_VERSION")" != "$MAJOR" ]; then
    # A cluster left by another major version cannot be started by this one; it only ever
    # held test data, so start afresh.
    say "the cluster in $DATA_DIR is from PostgreSQL $(cat "$DATA_DIR/PG_VERSION"), not $MAJOR: recreating it"
    as_owner "$BINDIR/pg_ctl" stop -D "$DATA_DIR" -m immediate >/dev/null 2>&1 || true
    rm -rf "$DATA_DIR"
fi
if [ ! -s "$DATA_DIR/PG_VERSION" ]; then
    say "initialising a cluster in $DATA_DIR"
    rm -rf "$DATA_DIR"
    install -d -m 700 -o "$RUN_USER" "$DATA_DIR"
    as_owner "$BINDIR/initdb" -D "$DATA_DIR" -U "$SUPERUSER" --encoding=UTF8 --locale=C \
        --auth-local=trust --auth-host=trust >&2 || die "initdb failed in $DATA_DIR"
fi
install -d -m 700 -o "$RUN_USER" "$SOCKET_DIR"
[ -e "$LOG_FILE" ] || install -m 600 -o "$RUN_USER" /dev/null "$LOG_FILE"

PORT="$(running_port)"
if [ -n "$PORT" ]; then
    say "a server is already running from $DATA_DIR on port $PORT"
else
    PORT="$(pick_port)"
    say "starting the server on 127.0.0.1:$PORT (log: $LOG_FILE)"
    # -c options override postgresql.conf for this start only, so a restart on another
    # port needs no edit of the cluster's files.
    if ! as_owner "$BINDIR/pg_ctl" start -D "$DATA_DIR" -l "$LOG_FILE" -w -t "$WAIT_SECONDS" \
        -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$SOCKET_DIR" \
        >&2; then
        tail -n 20 "$LOG_FILE" >&2 || true
        die "the server did not start within ${WAIT_SECONDS}s (log above: $LOG_FILE)"
    fi
fi

deadline=$((SECONDS + WAIT_SECONDS))
until "$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PORT" -d postgres -U "$SUPERUSER"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        tail -n 20 "$LOG_FILE" >&2 || true
        die "the server on 127.0.0.1:$PORT did not accept connections within ${WAIT_SECONDS}s"
    fi
    sleep 0.5
done

# --- role and database (both created only when missing) ----------------------------------

if [ "$(psql_super -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != "1" ]; then
    psql_super -c "CREATE ROLE $ROLE LOGIN" || die "could not create the role $ROLE"
fi
if [ "$(psql_super -tAc "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" != "1" ]; then
    psql_super -c "CREATE DATABASE $DATABASE OWNER $ROLE" ||
        die "could not create the database $DATABASE"
fi

USERINFO="$ROLE"
if [ -n "$PASSWORD" ]; then
    # Set on every run: the caller may pick a new password each time.
    # On stdin, not -c: a command line is visible to every user (ps).
    psql_super <<<"ALTER ROLE $ROLE PASSWORD '$PASSWORD'" ||
        die "could not set the password of $ROLE"
    # pg_hba.conf takes the first matching line: one above the trust lines makes the
    # server check this role's password (and no one else's).
    HBA_LINE="host all $ROLE 127.0.0.1/32 scram-sha-256"
    if ! as_owner grep -qxF "$HBA_LINE" "$DATA_DIR/pg_hba.conf"; then
        as_owner sed -i "1i $HBA_LINE" "$DATA_DIR/pg_hba.conf" ||
            die "could not add a password rule for $ROLE to pg_hba.conf"
        as_owner "$BINDIR/pg_ctl" reload -D "$DATA_DIR" >/dev/null ||
            die "the server did not reload pg_hba.conf"
    fi
    USERINFO="$ROLE:$PASSWORD"
fi

DSN="postgresql://$USERINFO@127.0.0.1:$PORT/$DATABASE"
# The password in the environment, not in a DSN argument (ps shows arguments to anyone).
PGPASSWORD="$PASSWORD" "$BINDIR/psql" -X -q -h 127.0.0.1 -p "$PORT" -U "$ROLE" -d "$DATABASE" \
    -tAc "SELECT 1" >/dev/null ||
    die "the server answers but $ROLE cannot connect to $DATABASE"
say "ready: ${DSN/$USERINFO@/$ROLE${PASSWORD:+:***}@}"
echo "export LIVESESSION_PG_DSN='$DSN'"
