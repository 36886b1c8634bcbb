"""``registry witness``: a C2SP tlog-witness of its own for another organisation.

``registry witness serve`` runs ``POST /add-checkpoint`` (``ledger.witness``) with the
witness's own Ed25519 key (created, mode 0600, on first start), for the logs named with
``--log ORIGIN=VKEY-FILE``, keeping the last size and root it cosigned per log in ``--state``.
``registry witness vkey`` prints its ``cosignature/v1`` verifier key, which verifiers name
with ``--witness``.
"""

from __future__ import annotations

import argparse
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cli.api_commands import port
from cli.base import CliError, Context, Subparsers, add_command, add_group, read_text
from ledger.witness import Cosigner

MAX_BODY = 64 * 1024


def add_witness_commands(subparsers: Subparsers) -> None:
    witness = add_group(subparsers, "witness", "a transparency-log witness (C2SP tlog-witness)")
    p = add_command(witness, "serve", cmd_witness_serve,
                    "serve POST /add-checkpoint: cosign checkpoints that extend the last one",
                    writes=False)
    _key_arguments(p)
    p.add_argument("--log", action="append", required=True, metavar="ORIGIN=VKEY-FILE",
                   help="a log to witness and the file of its verifier key (repeatable)")
    p.add_argument("--state", type=Path, required=True, metavar="FILE",
                   help="where the last cosigned size and root of each log are kept")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback)")
    p.add_argument("--port", type=port, default=8100)
    p = add_command(witness, "vkey", cmd_witness_vkey,
                    "print the witness's cosignature/v1 verifier key", writes=False)
    _key_arguments(p)


def _key_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", required=True,
                   help="the witness's key name, e.g. witness.gdee.gov.cn/registry")
    p.add_argument("--key", type=Path, required=True, metavar="FILE",
                   help="its signing key file (created, mode 0600, if missing)")


def _cosigner(ctx: Context) -> Cosigner:
    from ledger.keys import KeyFileError, load_or_create_key

    try:
        return Cosigner.from_signer(load_or_create_key(ctx.args.key, key_name=ctx.args.name))
    except (KeyFileError, ValueError, OSError) as e:
        raise CliError(f"witness key: {e}") from None


def cmd_witness_vkey(ctx: Context) -> None:
    print(_cosigner(ctx).vkey)


def cmd_witness_serve(ctx: Context) -> None:
    from ledger.witness import Witness

    logs: dict[str, list[str]] = {}
    for item in ctx.args.log:
        origin, sep, file = item.partition("=")
        if not sep or not origin:
            raise CliError(f"--log {item!r}: expected ORIGIN=VKEY-FILE")
        logs.setdefault(origin, []).append(read_text(Path(file), "verifier key").strip())
    try:
        witness = Witness(_cosigner(ctx), logs, ctx.args.state, clock=time.time)
    except ValueError as e:
        raise CliError(str(e)) from None

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/add-checkpoint":
                self._answer(404, "text/plain; charset=utf-8", "not found\n")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                self._answer(400, "text/plain; charset=utf-8", "body missing or too large\n")
                return
            try:
                body = self.rfile.read(length).decode("utf-8")
            except UnicodeDecodeError:
                self._answer(400, "text/plain; charset=utf-8", "not UTF-8\n")
                return
            outcome = witness.add_checkpoint(body)
            self._answer(outcome.status, outcome.content_type, outcome.body)

        def _answer(self, status: int, kind: str, text: str) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            sys.stderr.write(f"witness: {format % args}\n")

    server = ThreadingHTTPServer((ctx.args.host, ctx.args.port), Handler)
    print(f"witness {witness.cosigner.vkey} on http://{ctx.args.host}:{ctx.args.port}"
          f"/add-checkpoint for {', '.join(sorted(logs))}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
