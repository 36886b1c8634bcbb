"""The README walkthrough runs as written (with the installed `registry` command)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def walkthrough() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Walkthrough", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    return [line.split("  #")[0].strip() for line in block.group(1).splitlines()
            if line.strip()]


def test_readme_opens_with_exactly_make_run_and_make_test() -> None:
    first = re.search(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert first is not None
    commands = [line.split("#")[0].strip() for line in first.group(1).splitlines()]
    assert commands == ["make run", "make test"]


def test_readme_walkthrough_runs(tmp_path: Path) -> None:
    registry = [sys.executable, "-m", "cli"]
    for line in walkthrough():
        argv, _, redirect = line.partition(">")
        words = shlex.split(argv)
        assert words[0] == "registry"
        done = subprocess.run([*registry, *words[1:]], cwd=tmp_path, capture_output=True,
                              text=True, check=False, env={"PYTHONPATH": str(ROOT),
                                                           "PATH": "/usr/bin:/bin"})
        assert done.returncode == 0, f"{line}\n{done.stderr}"
        if redirect:
            (tmp_path / redirect.strip()).write_text(done.stdout)
