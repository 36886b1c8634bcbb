"""The ``registry`` command line (see ``cli.main``)."""

from cli.main import build_parser, command_paths, main

__all__ = ["build_parser", "command_paths", "main"]
