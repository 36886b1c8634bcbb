"""The repository's copies of the shared known-answer vectors have not drifted."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[1] / "vectors"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "vectors"


@pytest.mark.parametrize("name", ["rfc6962_vectors.json", "signed_note_vectors.json"])
def test_vector_copy_matches_shared(name: str) -> None:
    if not SHARED.is_dir():
        pytest.skip("no ../shared/vectors beside this checkout")
    assert (HERE / name).read_bytes() == (SHARED / name).read_bytes()
