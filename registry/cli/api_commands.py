"""``registry serve``: the HTTP API on uvicorn (plain ``def`` handlers run in its thread pool)."""

from __future__ import annotations

import argparse

from registry.cli.base import Context, Subparsers, add_command, whole_number


def port(text: str) -> int:
    value = whole_number(text, "a port")
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port")
    return value


def add_serve_commands(subparsers: Subparsers) -> None:
    p = add_command(subparsers, "serve", cmd_serve, "serve the HTTP API (docs at /docs)",
                    writes=False)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback)")
    p.add_argument("--port", type=port, default=8000)


def cmd_serve(ctx: Context) -> None:
    import uvicorn

    from api.app import create_app

    ctx.settings  # noqa: B018 - bad settings are bad input, reported before serving
    print(f"Surplus Registry API on http://{ctx.args.host}:{ctx.args.port}/docs "
          f"(data: {ctx.data_dir})", flush=True)
    uvicorn.run(create_app(ctx.env), host=ctx.args.host, port=ctx.args.port,
                log_level="warning")
