"""`registry.datadir.secure_tree` tightens a data folder that other processes may be writing
in: what vanishes between the walk's listing and its tightening is passed over, the rest is
still tightened (the start-up race of ``registry serve --workers N``, where one worker's walk
met another's transient ``sessions.sqlite-journal``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry import datadir


def test_a_file_and_a_folder_gone_since_the_walk_listed_them_are_passed_over(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kept = tmp_path / "registry.sqlite"
    kept.write_bytes(b"")
    kept.chmod(0o644)
    sub = tmp_path / "ledger"
    sub.mkdir(mode=0o755)
    sub.chmod(0o755)
    real_walk = os.walk

    def walk_listing_vanished(top: str | os.PathLike[str]) -> Iterator[
            tuple[str, list[str], list[str]]]:
        for folder, dirs, files in real_walk(top):
            if Path(folder) == tmp_path:  # as listed just before another process removed them
                yield folder, [*dirs, "gone-folder"], [*files, "sessions.sqlite-journal"]
            else:
                yield folder, dirs, files

    monkeypatch.setattr(datadir.os, "walk", walk_listing_vanished)
    datadir.secure_tree(tmp_path)
    assert kept.stat().st_mode & 0o777 == datadir.FILE_MODE
    assert sub.stat().st_mode & 0o777 == datadir.DIR_MODE
    assert tmp_path.stat().st_mode & 0o777 == datadir.DIR_MODE


def test_other_errors_are_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "registry.sqlite").write_bytes(b"")

    def refused(path: str, mode: int) -> None:
        raise PermissionError(1, "Operation not permitted", path)

    monkeypatch.setattr(datadir.os, "chmod", refused)
    with pytest.raises(PermissionError):
        datadir.secure_tree(tmp_path)
