"""The ``registry`` command line: parser plumbing, argument types, the run context.

Every command is a small function ``handler(ctx) -> int | None`` registered on an argparse
sub-parser by an ``add_*_commands(subparsers)`` function listed in ``COMMAND_GROUPS``; another
area (ledger, orders, …) adds its commands by writing such a function and appending it there.
Handlers parse nothing themselves: the parser converts arguments (credit codes, integer amounts,
ISO times) and the handler does one registry call and prints the result.

Times are passed to the registry explicitly: ``--at`` on every writing command, defaulting to the
current time in China Standard Time (Asia/Shanghai, +08:00), read from the product's one clock
(`registry.clock`) in the CLI layer — the domain never reads a clock.

Bad input — argument syntax, malformed JSON, amounts that are not whole kg / kgce, every refusal
of the domain (``RegistryError``), bad settings — prints ONE line ``registry: error: …`` on stderr
and exits with status 2. Anything else is a bug: one line too, status 1, and the traceback only
when ``REGISTRY_DEBUG`` is set.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from domain.credit_code import validate_credit_code
from domain.errors import InvalidCreditCode
from registry.clock import now

if TYPE_CHECKING:
    from domain.user import User
    from ledger.log import Ledger
    from registry.bootstrap import Registry, Services
    from registry.config import Settings
    from registry.ledger_follower import LedgerFollower

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
#: refused before writing anything: the data folder is served (`cli.serving`)
EXIT_BUSY = 3


class CliError(Exception):
    """Bad input found by the command line itself; reported like a domain refusal."""


# -- the parser --------------------------------------------------------------------------------


class Parser(argparse.ArgumentParser):
    """Raises instead of printing usage and exiting, so ``main`` reports one line."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("registry").strip()
        raise CliError(f"{command}: {message}" if command else message)


if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[Parser]
else:  # argparse has no public name for it, and it is generic only in the stubs
    Subparsers = argparse._SubParsersAction
Handler = Callable[["Context"], int | None]


#: what a command does beside a running ``registry serve`` of its data folder
#: (`cli.serving`): ``refuse`` before writing anything (it writes the store or the
#: ledger), or ``run`` (it reads, or writes only what the service shares safely: tokens)
BESIDE_SERVICE = ("refuse", "run")


def add_command(subparsers: Subparsers, name: str, handler: Handler, summary: str, *,
                writes: bool = True, beside_service: str | None = None,
                person: bool = False) -> Parser:
    """One leaf command: its parser, the shared ``--data-dir`` and, if it writes, ``--at``.
    ``beside_service`` defaults to ``refuse`` for a writing command, ``run`` otherwise.
    ``person``: the command is a person's act; it runs as the authenticated user (``--as``,
    `Context.person`) instead of a ``system:cli-<job>``."""
    p: Parser = subparsers.add_parser(name, help=summary, description=summary)
    if person:
        p.add_argument("--as", dest="as_login", metavar="LOGIN", default=None,
                       help="act as this user (default: $REGISTRY_LOGIN); the password is "
                            "read from $REGISTRY_PASSWORD or a prompt, an administrator's "
                            "one-time code from $REGISTRY_TOTP or a prompt; or give a bearer "
                            "token of the user in $REGISTRY_TOKEN or --token-file instead")
        p.add_argument("--token-file", metavar="FILE", default=None,
                       help="a file holding a bearer token of the user acting (e.g. the "
                            "demo world's DATA/demo-tokens/LOGIN)")
    p.add_argument("--data-dir", metavar="DIR", default=argparse.SUPPRESS,
                   help="data folder of the event store (overrides the global option)")
    if writes:
        p.add_argument("--at", type=timestamp, metavar="ISO-DATETIME", default=None,
                       help="when it happened, e.g. 2025-03-01T09:00:00+08:00 "
                            "(default: now, China Standard Time)")
    beside = beside_service or ("refuse" if writes else "run")
    if beside not in BESIDE_SERVICE:
        raise ValueError(f"beside_service is one of {BESIDE_SERVICE}, not {beside!r}")
    p.set_defaults(handler=handler, beside_service=beside, person=person)
    return p


def add_group(subparsers: Subparsers, name: str, summary: str) -> Subparsers:
    """A command with actions (``registry retrofit verify …``)."""
    p: Parser = subparsers.add_parser(name, help=summary, description=summary)
    return p.add_subparsers(title="actions", dest=f"{name}_action", metavar="ACTION",
                            required=True)


# -- argument types: each raises ArgumentTypeError with a message naming the problem -----------


def timestamp(text: str) -> str:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date-time such as 2025-03-01T09:00:00+08:00"
        ) from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset, e.g. +08:00")
    return value.isoformat(timespec="seconds")


def iso_date(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date such as 2030-12-31"
                                         ) from None


def whole_number(text: str, what: str = "a quantity") -> int:
    """An integer of the smallest unit; decimals are refused rather than rounded."""
    cleaned = text.strip().replace("_", "")
    try:
        return int(cleaned)
    except ValueError:
        pass
    try:
        float(cleaned)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be an integer, got {text!r}") from None
    raise argparse.ArgumentTypeError(
        f"{what} must be a whole number of kg (kgce for ENERGY), got {text!r}; "
        "amounts are stored in the smallest unit (1 t = 1000 kg), never as decimals"
    )


def quantity(text: str) -> int:
    return whole_number(text)


def year(text: str) -> int:
    value = whole_number(text, "a year")
    if not 2000 <= value <= 2100:
        raise argparse.ArgumentTypeError(f"{value} is not a plausible year")
    return value


def position(text: str) -> int:
    value = whole_number(text, "a log position")
    if value < 0:
        raise argparse.ArgumentTypeError("a log position is a non-negative integer")
    return value


def credit_code(text: str) -> str:
    try:
        return validate_credit_code(text.strip().upper())
    except InvalidCreditCode as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def upper(text: str) -> str:
    return text.strip().upper()


def kind_list(text: str) -> list[str]:
    kinds = [k.strip().upper() for k in text.split(",") if k.strip()]
    if not kinds:
        raise argparse.ArgumentTypeError("name at least one indicator kind, e.g. COD,NH3N")
    return kinds


def amounts(text: str) -> dict[str, int]:
    """``COD=100000,NH3N=2000`` or a JSON object ``{"COD": 100000, "NH3N": 2000}``."""
    text = text.strip()
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as e:
            raise argparse.ArgumentTypeError(f"invalid JSON ({e.msg} at column {e.colno})"
                                             ) from None
        if not isinstance(loaded, dict):
            raise argparse.ArgumentTypeError("the JSON must be an object of kind: amount")
        pairs = [(str(k), v if isinstance(v, str) else json.dumps(v)) for k, v in loaded.items()]
    else:
        pairs = []
        for item in filter(None, (p.strip() for p in text.split(","))):
            kind, sep, value = item.partition("=")
            if not sep:
                raise argparse.ArgumentTypeError(
                    f"{item!r} is not KIND=AMOUNT (e.g. COD=100000,NH3N=2000)")
            pairs.append((kind, value))
    out: dict[str, int] = {}
    for name, value in pairs:
        kind = name.strip().upper()
        if kind in out:
            raise argparse.ArgumentTypeError(f"{kind} is given twice")
        out[kind] = whole_number(value, f"the {kind} amount")
    if not out:
        raise argparse.ArgumentTypeError("give at least one KIND=AMOUNT")
    return out


# -- running a command -------------------------------------------------------------------------


@dataclass
class Context:
    """What a handler gets: its arguments, the composed environment and (lazily) the app."""

    args: argparse.Namespace
    env: dict[str, str]

    @cached_property
    def settings(self) -> Settings:
        from registry.config import Settings

        try:
            return Settings.from_env(self.env)
        except ValueError as e:
            raise CliError(str(e)) from None

    @cached_property
    def services(self) -> Services:
        """The composition root's parts for this command's environment (`registry.bootstrap`):
        each opened on first use, so a command opens only what it uses."""
        from registry.bootstrap import Services

        return Services(self.env)

    @property
    def registry(self) -> Registry:
        self.settings  # noqa: B018 - bad settings are bad input, reported as such
        try:
            return self.services.registry
        except OSError as e:
            raise CliError(f"cannot use data folder {self.data_dir!r}: {e.strerror or e}"
                           ) from None

    @property
    def data_dir(self) -> str:
        return self.env["REGISTRY_DATA_DIR"]

    @property
    def ledger(self) -> Ledger:
        """The ledger of this data folder, opened (and its signing key created) on first use."""
        from ledger.errors import LedgerError
        from ledger.keys import KeyFileError

        try:
            return self.services.ledger
        except (LedgerError, KeyFileError, ValueError) as e:
            raise CliError(f"ledger: {e}") from None
        except OSError as e:
            raise CliError(f"ledger folder: {e.strerror or e}") from None

    def follow(self, *, only_if_open: bool = False) -> int:
        """Bring the ledger up to date with the event store: one leaf per committed event.
        ``only_if_open``: do nothing unless this command opened the store (offline commands
        such as ``ledger verify`` never create a data folder)."""
        if only_if_open and not self.services.opened():
            return 0
        if self.settings.store == "memory":
            return 0
        with progress_bar("ledger: following", unit="events") as tick:
            return self.follower().catch_up(progress=tick)

    def follower(self) -> LedgerFollower:
        """The one follower of this command's registry and ledger."""
        self.registry  # noqa: B018 - each part reports its own bad input
        self.ledger  # noqa: B018
        return self.services.follower

    def close(self) -> None:
        self.services.close()

    @cached_property
    def person(self) -> User:
        """The user this command acts as, authenticated as the HTTP API does: a login with its
        password and (administrators) one-time code, checked by `Registry.authenticate`
        (`registry.credentials`), or a bearer token of the user (``REGISTRY_TOKEN``).
        Holding the data folder is not enough to act as someone."""
        from domain.errors import AuthenticationFailed

        login = getattr(self.args, "as_login", None) or self.env.get("REGISTRY_LOGIN")
        token_file = getattr(self.args, "token_file", None)
        token = (read_text(Path(token_file), "token file") if token_file
                 else self.env.get("REGISTRY_TOKEN"))
        if not login and token:
            found = self.registry.users.verify_token(token.strip(), datetime.now(UTC))
            if found is None:
                raise CliError("REGISTRY_TOKEN is invalid, expired or revoked")
            return found[0]
        if not login:
            raise CliError("this command is a person's act: give --as LOGIN (or "
                           "REGISTRY_LOGIN, or a bearer token in REGISTRY_TOKEN)")
        password = self.env.get("REGISTRY_PASSWORD")
        if password is None:
            password = _ask(f"password of {login}: ")
        code = self.env.get("REGISTRY_TOTP")
        if code is None and sys.stdin.isatty():
            code = _ask(f"one-time code of {login} (empty if none): ") or None
        try:
            return self.registry.users.authenticate(login, password, code, datetime.now(UTC))
        except AuthenticationFailed as e:
            raise CliError(str(e)) from None

    @property
    def actor(self) -> str:
        """Whose act this command is: the authenticated user's id."""
        return self.person.user_id

    @cached_property
    def at(self) -> str:
        given: str | None = getattr(self.args, "at", None)
        return given or now()


def _ask(prompt: str) -> str:
    import getpass

    try:
        return getpass.getpass(prompt)
    except EOFError:
        raise CliError("no password given (set REGISTRY_PASSWORD or answer the prompt)"
                       ) from None


class progress_bar:  # noqa: N801 - used like a function in ``with`` statements
    """A tqdm bar on stderr when it is a terminal; nothing at all otherwise.

    Yields ``tick(done)`` taking the running total, which is what the ledger's and the replay's
    progress callbacks report.
    """

    def __init__(self, description: str, *, unit: str, total: int | None = None) -> None:
        from tqdm import tqdm

        self._bar = tqdm(desc=description, unit=unit, total=total, file=sys.stderr,
                         disable=not sys.stderr.isatty(), unit_scale=True, leave=False)
        self._done = 0

    def __enter__(self) -> Callable[[int], None]:
        return self._tick

    def _tick(self, done: int) -> None:
        self._bar.update(done - self._done)
        self._done = done

    def __exit__(self, *_: object) -> None:
        self._bar.close()


def compose_env(args: argparse.Namespace, base: Mapping[str, str] | None) -> dict[str, str]:
    """A copy of the environment with the data folder chosen on the command line."""
    env = dict(os.environ if base is None else base)
    env["REGISTRY_DATA_DIR"] = args.data_dir or env.get("REGISTRY_DATA_DIR") or "data"
    return env


def read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CliError(f"cannot read {what} {str(path)!r}: {getattr(e, 'strerror', e)}") from None


def fail(message: str, status: int) -> int:
    one_line = " ".join(message.split())
    print(f"registry: error: {one_line}", file=sys.stderr)
    return status


def emit_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))
