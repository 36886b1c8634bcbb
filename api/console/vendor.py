"""Vendored front-end assets, installed at set-up from the npm registry (``make`` runs
``python -m api.console.vendor``), so that the console, ``/docs`` and ``/redoc`` load nothing
from a CDN and work on an offline network.

Each package is pinned to one version and the SHA-512 of its tarball (npm's ``integrity``);
``npm pack`` fetches the tarball only (no dependencies, no install scripts run), the digest is
checked here, and only the files listed are extracted under ``static/vendor/<package>/``. The
folder is git-ignored: the pins below are what is committed.

A package may declare *rewrites*: exact strings replaced in one of its files after the digest
check, for what would still reach another host (ReDoc's footer loads its logo from its CDN).
A rewrite whose string is not found fails the set-up, so a new version cannot slip one past.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

VENDOR = Path(__file__).resolve().parent / "static" / "vendor"


@dataclass(frozen=True)
class Package:
    """One npm package: its pinned version and tarball digest, and the files the service
    serves (paths inside the tarball's ``package/`` folder)."""

    name: str
    version: str
    integrity: str
    files: tuple[str, ...]
    rewrites: tuple[tuple[str, str, str], ...] = ()  # (file, exact text, replacement)

    @property
    def fingerprint(self) -> str:
        """What the installed copy must have been made from: the tarball and the rewrites."""
        return json.dumps([self.integrity, self.rewrites])

    @property
    def folder(self) -> Path:
        return VENDOR / self.name


PACKAGES = (
    Package("swagger-ui-dist", "5.35.0",
            "sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNH"
            "C3sU8yVUQ==",
            ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "LICENSE")),
    Package("redoc", "2.5.2",
            "sha512-sTJfItvRkcDTojB6wdLN4M+Ua6mlZwElV21Tf8Mn7IbQF/1Os6GvgQpZyLWPGZZHbhy7GC1Or1hTM"
            "Hfz1vKh5A==",
            ("bundles/redoc.standalone.js", "LICENSE"),
            # an empty src fails at once, and ReDoc then drops the <img> (its onError)
            (("bundles/redoc.standalone.js", 'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"',
              'src:""'),)),
    # not served by the console: the browser tests inject it into every page they check
    Package("axe-core", "4.14.1",
            "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe3"
            "7OgudVGtQ==",
            ("axe.min.js", "LICENSE")),
)


class VendorError(RuntimeError):
    """A package could not be fetched or did not match its pinned digest."""


def stamp(package: Package) -> Path:
    return package.folder / ".integrity"


def installed(package: Package) -> bool:
    """Whether the package's files are in place for its pinned digest."""
    mark = stamp(package)
    return (mark.is_file() and mark.read_text() == package.fingerprint
            and all((package.folder / f).is_file() for f in package.files))


def asset(package_name: str, file: str) -> Path:
    """The vendored file ``file`` of ``package_name`` (which may not exist yet)."""
    return VENDOR / package_name / file


def sri(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def fetch(package: Package, into: Path) -> Path:
    """The package's tarball, fetched by ``npm pack`` and checked against its pin."""
    try:
        out = subprocess.run(
            ["npm", "pack", f"{package.name}@{package.version}", "--json", "--silent",
             "--pack-destination", str(into)],
            check=True, capture_output=True, text=True, timeout=300).stdout
    except (OSError, subprocess.SubprocessError) as failed:
        raise VendorError(f"npm pack {package.name}@{package.version} failed: {failed}") from None
    return check(package, into / json.loads(out)[0]["filename"])


def check(package: Package, tarball: Path) -> Path:
    """``tarball`` if its SHA-512 is the package's pinned one; `VendorError` otherwise."""
    digest = sri(tarball.read_bytes())
    if digest != package.integrity:
        raise VendorError(f"{package.name}@{package.version}: tarball digest {digest} is not "
                          f"the pinned {package.integrity}")
    return tarball


def extract(package: Package, tarball: Path) -> None:
    """Only the listed files, by name (never a member's own path, so nothing escapes)."""
    if package.folder.exists():
        shutil.rmtree(package.folder)
    package.folder.mkdir(parents=True)
    with tarfile.open(tarball, "r:gz") as archive:
        for file in package.files:
            member = archive.extractfile(f"package/{file}")
            if member is None:
                raise VendorError(f"{package.name}: {file} is not a file in the tarball")
            target = package.folder / file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(member.read())
    for file, old, new in package.rewrites:
        target = package.folder / file
        text = target.read_text(encoding="utf-8")
        if old not in text:
            raise VendorError(f"{package.name}: {old!r} is not in {file}; review the rewrite")
        target.write_text(text.replace(old, new), encoding="utf-8")
    stamp(package).write_text(package.fingerprint)


def install(packages: tuple[Package, ...] = PACKAGES) -> list[str]:
    """Install every package not yet in place; returns the names installed."""
    done = []
    with tempfile.TemporaryDirectory() as scratch:
        for package in packages:
            if installed(package):
                continue
            extract(package, fetch(package, Path(scratch)))
            done.append(f"{package.name}@{package.version}")
    return done


def main() -> int:
    try:
        done = install()
    except VendorError as failed:
        print(f"vendor: {failed}", file=sys.stderr)  # noqa: T201 - a set-up command's output
        return 1
    if done:
        print(f"vendored {', '.join(done)} into {VENDOR}")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
