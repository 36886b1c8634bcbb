"""The ``registry`` command line (see ``registry.cli.main``)."""

from registry.cli.main import build_parser, command_paths, main

__all__ = ["build_parser", "command_paths", "main"]
