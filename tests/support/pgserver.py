"""A throw-away PostgreSQL server for the test session.

Debian's binaries refuse to run as root, and tests and CI run as root, so the cluster belongs to
the unprivileged ``postgres`` user (or the current user when it is not root), lives in a temporary
folder, listens on a free loopback port, and is stopped by its own pid when the session ends,
including when tests fail.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    dbname: str
    datadir: str

    def env(self, prefix: str = "") -> dict[str, str]:
        """The eventsourcing settings that select this server."""
        return {
            f"{prefix}PERSISTENCE_MODULE": "eventsourcing.postgres",
            f"{prefix}POSTGRES_DBNAME": self.dbname,
            f"{prefix}POSTGRES_HOST": self.host,
            f"{prefix}POSTGRES_PORT": str(self.port),
            f"{prefix}POSTGRES_USER": self.user,
            f"{prefix}POSTGRES_PASSWORD": self.password,
        }


def _bindir() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return os.path.dirname(found[-1])
    path = shutil.which("initdb")
    if path:
        return os.path.dirname(path)
    raise RuntimeError("PostgreSQL server binaries not found: run `make test` (it installs them)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _runner() -> tuple[list[str], str]:
    """Command prefix and owner name: as root, run as the unprivileged postgres user."""
    if os.geteuid() != 0:
        return [], pwd.getpwuid(os.geteuid()).pw_name
    return ["runuser", "-u", "postgres", "--"], "postgres"


def start() -> PostgresServer:
    bindir = _bindir()
    prefix, owner = _runner()
    base = tempfile.mkdtemp(prefix="registry-pg-")
    os.chmod(base, 0o755)
    datadir = os.path.join(base, "data")
    pwfile = os.path.join(base, "pw")
    password = "registry-test"
    with open(pwfile, "w") as f:
        f.write(password)
    if prefix:
        shutil.chown(base, owner)
        shutil.chown(pwfile, owner)
    subprocess.run(
        [*prefix, f"{bindir}/initdb", "-D", datadir, "-U", "registry", "-A", "scram-sha-256",
         f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    port = _free_port()
    server = PostgresServer("127.0.0.1", port, "registry", password, "registry", datadir)
    _pg_ctl_start(server)
    atexit.register(stop, server)
    _wait_and_create_db(bindir, prefix, server, base)
    return server


def _pg_ctl_start(server: PostgresServer) -> None:
    prefix, _ = _runner()
    base = os.path.dirname(server.datadir)
    subprocess.run(
        [*prefix, f"{_bindir()}/pg_ctl", "-D", server.datadir, "-l",
         os.path.join(server.datadir, "log"), "-w", "-o",
         f"-h 127.0.0.1 -p {server.port} -k {base} -c fsync=off -c max_connections=200",
         "start"],
        check=True, stdout=subprocess.DEVNULL,
    )


def crash(server: PostgresServer) -> None:
    """Stop the server the way a crash does (immediate shutdown: every backend killed, no
    checkpoint; the next start runs crash recovery). The fault suite's "kill"."""
    prefix, _ = _runner()
    subprocess.run(
        [*prefix, f"{_bindir()}/pg_ctl", "-D", server.datadir, "-m", "immediate", "-w",
         "stop"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def restart(server: PostgresServer) -> None:
    """Start a crashed or stopped server again on the same port and data folder."""
    _pg_ctl_start(server)


def _wait_and_create_db(bindir: str, prefix: list[str], server: PostgresServer, sock: str) -> None:
    deadline = time.monotonic() + 30
    env = {**os.environ, "PGPASSWORD": server.password}
    while True:
        done = subprocess.run(
            [f"{bindir}/createdb", "-h", "127.0.0.1", "-p", str(server.port), "-U", server.user,
             server.dbname], env=env, capture_output=True, check=False,
        )
        if done.returncode == 0 or b"already exists" in done.stderr:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"PostgreSQL did not come up: {done.stderr.decode()}")
        time.sleep(0.2)


def stop(server: PostgresServer) -> None:
    if not os.path.isdir(server.datadir):
        return
    prefix, _ = _runner()
    bindir = _bindir()
    subprocess.run(
        [*prefix, f"{bindir}/pg_ctl", "-D", server.datadir, "-m", "immediate", "-w", "stop"],
        check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    shutil.rmtree(os.path.dirname(server.datadir), ignore_errors=True)


def create_database(server: PostgresServer, name: str) -> dict[str, str]:
    """A fresh database on the server, so each test gets empty tables."""
    import psycopg

    with psycopg.connect(
        host=server.host, port=server.port, user=server.user, password=server.password,
        dbname=server.dbname, autocommit=True,
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return {**server.env(), "POSTGRES_DBNAME": name}
