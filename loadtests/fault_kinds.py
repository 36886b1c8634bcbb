"""The stores, services and faults of the fault suite (`loadtests.faults`).

A `Scenario` is one store seeded once for a fault kind (SQLite in its own data folder, a fresh
database on the suite's throw-away PostgreSQL server, or SQLite on a size-limited tmpfs) and
``registry serve`` over it; each function of `FAULTS` injects its kind's fault into a running
scenario while the clients keep sending, and says when the fault ended (recovery is counted
from there).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtests.fault_checks import registry_cli
from loadtests.fault_client import Op, World
from loadtests.load_service import Service, free_port
from loadtests.load_world import Manifest, issue_tokens, seed

ROOT = Path(__file__).resolve().parent.parent
TRADERS = 4
TMPFS_MB = 64


# -- the service and the stores -------------------------------------------------------------


class Served(Service):
    """``registry serve`` itself, also with ``--workers N`` (its own supervisor)."""

    def command(self) -> list[str]:
        return [sys.executable, "-m", "cli", "serve", "--host", "127.0.0.1",
                "--port", str(self.port), "--workers", str(self.workers)]

    def worker_pids(self) -> list[int]:
        """The supervisor's worker processes (not multiprocessing's resource tracker)."""
        if self.pid is None:
            return []
        try:
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        except OSError:
            return []
        pids = []
        for child in map(int, children):
            with contextlib.suppress(OSError):
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
                if b"resource_tracker" not in cmdline:
                    pids.append(child)
        return pids

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()


@dataclass
class Scenario:
    """One store seeded once for a fault kind, and the service over it."""

    kind: str
    folder: Path
    env: dict[str, str]
    manifest: Manifest
    world: World
    workers: int
    service: Served | None = None
    server: Any = None  # the PostgreSQL server, for pg-restart
    mount: Path | None = None  # the tmpfs of disk-full
    previous: Path | None = None  # the checkpoint the next round's ledger must extend
    vkey: Path | None = None
    #: bearer tokens of two administrators: a CLI deposit is one's proposal, the other's approval
    admin_tokens: list[str] = field(default_factory=list)
    rounds: list[dict[str, Any]] = field(default_factory=list)

    def start(self) -> float:
        """Start the service on a fresh port; seconds until it answered /health."""
        t0 = time.monotonic()
        self.service = Served(self.env, port=free_port(), workers=self.workers,
                              log=self.folder / f"service-{len(self.rounds) + 1}.log")
        self.service.start()
        return time.monotonic() - t0

    def restart_on_same_port(self) -> None:
        assert self.service is not None
        self.service.log = self.service.log.with_suffix(".restarted.log")
        self.service.start()

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()


_pg_server: Any = None


def postgres_env(name: str) -> tuple[dict[str, str], Any]:
    """A fresh database on the suite's throw-away PostgreSQL server (started on first use,
    stopped at exit)."""
    global _pg_server  # noqa: PLW0603 - one server for the whole run
    from tests.support import pgserver

    if _pg_server is None:
        _pg_server = pgserver.start()
    return {**pgserver.create_database(_pg_server, name), "REGISTRY_STORE": "postgres",
            "POSTGRES_POOL_SIZE": "10"}, _pg_server


#: why disk-full is skipped when not root (the one kind that may be skipped)
NOT_ROOT = "disk-full needs root to mount a size-limited tmpfs: skipped"


def mount_tmpfs(folder: Path) -> str | None:
    """A size-limited tmpfs at ``folder``; `NOT_ROOT` when not root. As root, a mount that
    fails is an error (`KindUnavailable`), not a skip."""
    if os.geteuid() != 0:
        return NOT_ROOT
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MB}m,mode=0700",
                           "tmpfs", str(folder)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise KindUnavailable(f"disk-full: mount of a {TMPFS_MB} MB tmpfs failed as root: "
                              f"{done.stderr.strip()}")
    return None


class KindUnavailable(RuntimeError):
    """A fault kind that should run here cannot (no PostgreSQL, no tmpfs as root, the seed
    failed): the suite fails, naming it, rather than skip it."""


def unmount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def prepare(kind: str, results: Path) -> Scenario | str:
    """Seed the kind's store; a string says why the kind is skipped (disk-full when not
    root, the only skip); `KindUnavailable` when it should run and cannot."""
    folder = results / kind
    if folder.exists():
        unmount(folder / "data")
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    data = folder / "data"
    mount = None
    if kind == "disk-full":
        why = mount_tmpfs(data)
        if why:
            return why
        mount = data
    env = {"REGISTRY_DATA_DIR": str(data), "REGISTRY_RATE_LIMIT": "none"}
    server = None
    if kind.startswith("pg-"):
        try:
            pg, server = postgres_env(kind.replace("-", "_"))
        except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
            raise KindUnavailable(f"{kind}: no throw-away PostgreSQL server: {e}") from e
        env.update(pg)
    manifest = seed(env, TRADERS)
    manifest.save(folder / "world.json")
    # users in the store the service reads (PostgreSQL too)
    tokens = issue_tokens(data, manifest, env=env)
    scenario = Scenario(kind=kind, folder=folder, env=env, manifest=manifest,
                        admin_tokens=[t["token"] for t in tokens["administrator"]],
                        world=World.from_tokens(data / "tokens.json"),
                        workers=2 if kind.startswith("pg-") else 1, server=server, mount=mount)
    baseline = folder / "export-0"
    status, out = registry_cli(env, "ledger", "export", str(baseline))
    if status != 0:
        raise KindUnavailable(f"{kind}: the baseline ledger export failed: {out[-500:]}")
    scenario.previous, scenario.vkey = baseline / "checkpoint", baseline / "vkey"
    return scenario


# -- the faults ------------------------------------------------------------------------------


@dataclass
class Fault:
    """What a round's fault did: when it ended (recovery is counted from there; None for the
    CLI beside the service, which interrupts nothing), whether it went as planned
    (``failures``: the check ``fault-injected``) and what the CLI answered beside the service
    (``cli_failures``: ``cli-beside-service``)."""

    ended: float | None
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    ops: list[Op] = field(default_factory=list)
    cli_failures: list[str] = field(default_factory=list)


def kill9_service(s: Scenario) -> Fault:
    assert s.service is not None
    killed = s.service.pid
    s.service.kill9()
    fault = Fault(time.time(), [f"killed pid {killed}"])
    try:
        s.restart_on_same_port()  # as a supervisor (systemd) would, while clients keep trying
    except RuntimeError as e:
        fault.failures.append(f"the service did not start again after kill -9: {e}")
    return fault


def kill_worker(s: Scenario) -> Fault:
    assert s.service is not None
    workers = s.service.worker_pids()
    if not workers:
        return Fault(None, failures=["no worker process found to kill"])
    victim = random.choice(workers)
    os.kill(victim, signal.SIGKILL)
    return Fault(time.time(), [f"killed worker {victim} of {workers}"])


def restart_postgres(s: Scenario) -> Fault:
    from tests.support import pgserver

    try:
        pgserver.crash(s.server)
        time.sleep(1.0)
        pgserver.restart(s.server)
    except subprocess.CalledProcessError as e:
        return Fault(None, failures=[f"pg_ctl failed: {e}"])
    return Fault(time.time(), ["PostgreSQL killed (immediate shutdown), restarted after 1 s"])


def fill_disk(s: Scenario) -> Fault:
    assert s.mount is not None
    filler = s.mount / "filler.bin"
    chunk = b"\0" * (1 << 20)
    with contextlib.suppress(OSError), filler.open("wb") as f:
        while True:  # to the last byte: then the smallest write fails
            f.write(chunk)
            f.flush()
    with contextlib.suppress(OSError), filler.open("ab") as f:
        while True:
            f.write(b"\0" * 4096)
            f.flush()
    time.sleep(2.0)  # writes meet a full disk for a while
    filler.unlink()
    return Fault(time.time(), [f"tmpfs of {TMPFS_MB} MB filled for 2 s, then freed"])


def cli_beside(s: Scenario) -> Fault:
    """CLI deposits and reads against the served folder while the clients run (the service
    must be up throughout, or the round proves nothing)."""
    assert s.service is not None
    fault = Fault(None)
    if not s.service.running():
        fault.failures.append("the service was not running when the CLI started")
    code = s.manifest.traders[0]
    for k in range(2):
        reference = f"CLI-{len(s.rounds) + 1}-{k}"
        op = Op(k + 1, len(s.rounds) + 1, "cli", "deposit", "CLI", "registry cash deposit",
                {"amount": 100, "reference": reference}, None, [code, reference])
        op.sent = time.time()
        proposer, approver = ({**s.env, "REGISTRY_TOKEN": t} for t in s.admin_tokens[:2])
        done = cli_run(proposer, "cash", "deposit", code, "--amount", "100", "--reference",
                       reference)
        if done.returncode == 0:  # proposed: a second administrator brings it into effect
            proposal = done.stdout.split()[1].rstrip(":")
            done = cli_run(approver, "proposal", "approve", proposal)
        op.answered = time.time()
        op.status, op.extra["body"] = done.returncode, done.stderr[-300:]
        if done.returncode == 0:
            op.outcome = "acked"
        elif done.returncode == 3:
            op.outcome = "refused"
            if f"pid {s.service.pid}" not in done.stderr or s.service.url not in done.stderr:
                fault.cli_failures.append(f"refusal does not name the service: "
                                          f"{done.stderr!r}")
        else:
            op.outcome = "in-doubt"
            fault.cli_failures.append(f"cli deposit exit {done.returncode}: "
                                      f"{done.stderr.strip()[-200:]}")
        fault.ops.append(op)
    for args in (("balances", "--enterprise", code), ("cash", "show", code)):
        done = cli_run(s.env, *args)
        if done.returncode != 0:
            fault.cli_failures.append(f"registry {' '.join(args)} exit {done.returncode} "
                                      f"beside the service: {done.stderr.strip()[-200:]}")
    if not s.service.running():
        fault.failures.append("the service stopped while the CLI ran beside it")
    fault.notes.append(", ".join(f"cli {op.identity[1]}: {op.outcome}" for op in fault.ops))
    return fault


#: seconds a CLI command beside the service may take; past it, it counts as hanging
CLI_TIMEOUT_S = 120


def cli_run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``registry ARGS`` in its own process; a hang past `CLI_TIMEOUT_S` answers exit -9."""
    command = [sys.executable, "-m", "cli", *args]
    try:
        return subprocess.run(command, env={**os.environ, **env}, cwd=ROOT,
                              capture_output=True, text=True, timeout=CLI_TIMEOUT_S,
                              check=False)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(command, -9, "", f"registry {' '.join(args)}: no "
                                           f"exit within {CLI_TIMEOUT_S} s (killed)")


FAULTS = {"kill9-sqlite": kill9_service, "pg-worker-kill": kill_worker,
          "pg-restart": restart_postgres, "disk-full": fill_disk, "cli-beside": cli_beside}
