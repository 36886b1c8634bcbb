"""The console's public registry, served by the API's own process, over the demo world.

Open without a login, in Simplified Chinese or English, amounts in tonnes and yuan, and
nothing loaded from another host (the browser tests in ``tests/e2e/test_console_browser.py``
check the same in Chromium)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.console import vendor
from registry.bootstrap import build_registry
from registry.demo import seed_demo

PAGES = ("/console/", "/console/lots", "/console/retirements", "/console/markets",
         "/console/credit", "/console/checkpoint")
VIEWERS = ("/docs", "/redoc")
LINK = re.compile(r"""(?:src|href|action)\s*=\s*["']([^"']*)["']""", re.I)
CSS_URL = re.compile(r"""url\(\s*["']?([^"')]+)""", re.I)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict]]:
    folder = tmp_path_factory.mktemp("console-demo")
    env = {"REGISTRY_DATA_DIR": str(folder)}
    registry = build_registry(env)
    summary = seed_demo(registry)
    registry.close()
    with TestClient(create_app(env)) as client:
        yield client, summary


@pytest.fixture
def client(demo: tuple[TestClient, dict]) -> TestClient:
    demo[0].cookies.clear()
    return demo[0]


def html(client: TestClient, path: str, **headers: str) -> str:
    r = client.get(path, headers=headers)
    assert r.status_code == 200, (path, r.text[:300])
    assert r.headers["content-type"].startswith("text/html")
    return r.text


@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_public_and_names_its_language(client: TestClient, path: str) -> None:
    zh = html(client, path, **{"Accept-Language": "zh-CN,zh;q=0.9"})
    en = html(client, path, **{"Accept-Language": "en-GB,en;q=0.8"})
    assert '<html lang="zh-Hans">' in zh and '<html lang="en">' in en
    assert "富余指标登记簿" in zh and "Surplus Registry" in en
    for text in (zh, en):  # landmarks: the screen reader's way around a page
        for landmark in ('<main id="main"', "<header", "<nav", "<footer", "<h1>"):
            assert landmark in text, (path, landmark)


def test_the_root_leads_to_the_console(client: TestClient) -> None:
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/console/"


def test_language_is_chosen_by_query_then_cookie_then_browser(client: TestClient) -> None:
    assert '<html lang="zh-Hans">' in html(client, "/console/")  # the programme's own default
    chosen = client.get("/console/lots?lang=en", headers={"Accept-Language": "zh-CN"})
    assert '<html lang="en">' in chosen.text
    assert "lang=en" in chosen.headers["set-cookie"]
    assert "httponly" in chosen.headers["set-cookie"].lower()
    # the cookie now wins over the browser's preference, on every page
    again = html(client, "/console/credit", **{"Accept-Language": "zh-CN"})
    assert '<html lang="en">' in again
    assert '<html lang="zh-Hans">' in html(client, "/console/credit?lang=zh-Hans")
    assert '<html lang="zh-Hans">' in html(client, "/console/markets")


def test_the_switcher_links_to_the_same_page_in_the_other_language(client: TestClient) -> None:
    text = html(client, "/console/lots?kind=COD&lang=en")
    assert 'href="/console/lots?kind=COD&amp;lang=zh-Hans"' in text
    assert 'aria-current="true">English' in text


def test_domain_terms_are_in_chinese(client: TestClient) -> None:
    overview = html(client, "/console/?lang=zh-Hans")
    for term in ("排污权", "用能权", "富余指标", "确权", "清洁生产审核", "统一社会信用代码"):
        assert term in overview, term
    lots = html(client, "/console/lots?lang=zh-Hans")
    assert "茅洲河" in lots and "化学需氧量（COD）" in lots and "吨标准煤" in lots


def test_lots_show_serial_ranges_retrofits_agencies_and_tonnes(
        demo: tuple[TestClient, dict], client: TestClient) -> None:
    summary = demo[1]
    text = html(client, "/console/lots?lang=en&kind=COD").replace("<wbr>", "")
    first = summary["sample_serial"]  # COD-2025-MAOZHOU-000000001
    assert f"{first}-000105000" in text  # the lot's whole serial range
    assert "105.000 t/a" in text  # 105,000 kg, exactly
    assert "GDCP-2025-001" in text and "Verification" in text
    assert "ENERGY-2025-GD" not in text  # the filter keeps COD only
    revoked = summary["revocation"]["retrofit"]
    assert revoked in text and 'class="revoked"' in text


def test_energy_is_shown_in_tce(client: TestClient) -> None:
    text = html(client, "/console/lots?lang=en&kind=ENERGY")
    assert "480.000 tce/a" in text
    assert re.search(r"consumed \(capacity expansion\): <span[^>]*>1,500.000 tce/a", text)


def test_credit_records_publish_the_revocation(demo: tuple[TestClient, dict],
                                               client: TestClient) -> None:
    revocation = demo[1]["revocation"]
    text = html(client, "/console/credit?lang=en")
    assert revocation["enterprise"] in text and revocation["restricted_agency"] in text
    assert revocation["spot_check"] in text and "restricted" in text


def test_a_retirement_appears_once_committed(demo: tuple[TestClient, dict],
                                            client: TestClient) -> None:
    assert "No units have been retired yet." in html(client, "/console/retirements?lang=en")
    state = client.app.state.registry_state  # type: ignore[attr-defined]
    owner = demo[1]["transfers"][0]["buyer"]
    state.registry.holdings.retire(
        instrument="COD-2025-MAOZHOU", owner=owner, quantity=2500,
        reason="voluntary cancellation for the 2025 green-factory pledge",
        at="2025-12-01T10:00:00+08:00")
    text = html(client, "/console/retirements?lang=en")
    assert "green-factory pledge" in text and "2.500 t/a" in text and owner in text
    assert re.search(r"COD-2025-MAOZHOU-\d{9}-\d{9}", text)
    lots = html(client, "/console/lots?kind=COD&lang=en")
    assert re.search(r"retired: <span[^>]*>2.500 t/a<", lots)


def test_markets_show_daily_prices_and_volumes_in_yuan_and_tonnes(client: TestClient) -> None:
    state = client.app.state.registry_state  # type: ignore[attr-defined]
    registry = state.registry
    registry.exchange.open_market(instrument="NOX-2025-GUANGZHOU", reference_price=250_000,
                                  administrator="admin-1", at="2025-12-01T09:00:00+08:00")
    text = html(client, "/console/markets?lang=en")
    assert "NOX-2025-GUANGZHOU" in text and "2,500.00 CNY per t/a" in text
    assert "2,250.00 CNY per t/a – 2,750.00 CNY per t/a" in text  # the ±10% band
    zh = html(client, "/console/markets/NOX-2025-GUANGZHOU?lang=zh-Hans")
    assert "2,500.00 元/(吨·年)" in zh


def test_the_checkpoint_page_shows_the_signed_note_and_the_vkey(client: TestClient) -> None:
    note = client.get("/ledger/checkpoint").text
    vkey = client.get("/ledger/vkey").text.strip()
    text = html(client, "/console/checkpoint?lang=en")
    origin, _size, root = note.splitlines()[:3]
    assert origin in text and root in text and vkey in text
    assert "registry ledger verify" in text


def test_bad_query_values_are_refused_as_problems(client: TestClient) -> None:
    for path in ("/console/lots?page=0", "/console/lots?kind=cod;drop",
                 "/console/retirements?page=x"):
        r = client.get(path)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    r = client.get("/console/markets/NOPE-2025-X")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


# -- offline: nothing from another host --------------------------------------------------------


def references(client: TestClient, path: str) -> set[str]:
    """Every URL a served page or stylesheet makes the browser load or follow."""
    r = client.get(path)
    assert r.status_code == 200, path
    found = set(LINK.findall(r.text)) | set(CSS_URL.findall(r.text))
    return {urljoin(f"http://testserver{path}", u) for u in found if not u.startswith("#")}


def test_no_served_page_references_another_host(client: TestClient) -> None:
    seen, todo = set(), [*PAGES, *VIEWERS, "/docs/oauth2-redirect"]
    while todo:  # follow the links and assets within the service, page by page
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for url in references(client, path):
            parts = urlsplit(url)
            assert parts.scheme in ("http", "data") and parts.netloc in ("testserver", ""), (
                path, url)
            same = parts.path
            if same.endswith((".css", ".html")) or (same.startswith("/console/") and \
                    "." not in same.rsplit("/", 1)[-1]):
                todo.append(same)
    assert {"/console/static/console.css", *PAGES} <= seen


def test_the_api_viewers_load_the_vendored_assets(client: TestClient) -> None:
    docs, redoc = html(client, "/docs"), html(client, "/redoc")
    assert "/console/static/vendor/swagger-ui-dist/swagger-ui-bundle.js" in docs
    assert "/console/static/vendor/redoc/bundles/redoc.standalone.js" in redoc
    for text in (docs, redoc):
        assert "cdn" not in text.lower() and "googleapis" not in text
    bundle = client.get("/console/static/vendor/redoc/bundles/redoc.standalone.js").text
    assert "cdn.redoc.ly" not in bundle  # its footer logo, rewritten at set-up
    for package in vendor.PACKAGES:
        assert vendor.installed(package), f"run: python -m api.console.vendor ({package.name})"
        for file in package.files:
            r = client.get(f"/console/static/vendor/{package.name}/{file}")
            assert r.status_code == 200 and r.content == vendor.asset(
                package.name, file).read_bytes()


def test_a_vendored_tarball_with_another_digest_is_refused(tmp_path: Path) -> None:
    tarball = tmp_path / "swagger-ui-dist-5.35.0.tgz"
    tarball.write_bytes(b"not the package that was pinned")
    with pytest.raises(vendor.VendorError, match="not the pinned"):
        vendor.check(vendor.PACKAGES[0], tarball)
    pinned = vendor.Package("x", "1.0.0", vendor.sri(tarball.read_bytes()), ())
    assert vendor.check(pinned, tarball) == tarball
