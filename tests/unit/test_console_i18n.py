"""The console's catalogues and amounts: every message has its Simplified Chinese translation,
every msgid the templates and code use is in the catalogue, and stored integers are shown
exactly as tonnes and yuan."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from api.console import terms
from api.console.amounts import display_unit, tonnes_text, yuan_text
from api.console.i18n import EN, ZH, by_name, from_accept_language, negotiate, po_file

CONSOLE = Path(__file__).resolve().parents[2] / "api" / "console"
PLACEHOLDER = re.compile(r"%\((\w+)\)s|\{(\w+)\}")


def catalogue():
    with po_file(ZH).open("rb") as f:
        return read_po(f, locale="zh_Hans")


def used_msgids() -> set[str]:
    """What ``make i18n`` would extract: the templates and the console's Python."""
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n",
                                        "trim_blocks": "true", "lstrip_blocks": "true"}}
    keywords = {"_": None, "gettext": None, "N_": None}
    return {message for _, _, message, _, _ in extract_from_dir(
        str(CONSOLE), method_map=method_map, options_map=options, keywords=keywords)
        if isinstance(message, str)}


def test_every_msgid_has_a_simplified_chinese_translation() -> None:
    missing = [m.id for m in catalogue() if m.id and (not m.string or m.fuzzy)]
    assert not missing, missing


def test_every_message_the_console_uses_is_in_the_catalogue() -> None:
    known = {m.id for m in catalogue() if m.id}
    used = used_msgids()
    assert len(used) > 150
    assert not used - known, sorted(used - known)


def test_translations_keep_their_placeholders() -> None:
    for m in catalogue():
        if m.id:
            assert sorted(PLACEHOLDER.findall(m.id)) == sorted(PLACEHOLDER.findall(m.string)), m.id


def test_every_reference_code_has_a_label() -> None:
    for labels, codes in terms.REFERENCE_TABLES:
        assert set(labels) == set(codes)
    assert terms.zone_name("MAOZHOU") == "Maozhou River"
    assert terms.zone_name("SHENZHEN") == "Shenzhen"
    assert terms.zone_name("GD") == "Guangdong Province"


@pytest.mark.parametrize(("header", "expected"), [
    ("zh-CN,zh;q=0.9,en;q=0.8", ZH), ("en-US,en;q=0.9", EN), ("zh-TW", ZH),
    ("fr-FR, en;q=0.5, zh;q=0.4", EN), ("en;q=0.2, zh;q=0.9", ZH), ("de, fr", None),
    ("en;q=0", None), ("", None), ("zh;q=abc, en", EN),
])
def test_accept_language(header: str, expected: object) -> None:
    assert from_accept_language(header) is expected


def test_the_choice_goes_query_cookie_browser_default() -> None:
    assert negotiate("en", "zh-Hans", "zh") is EN
    assert negotiate(None, "en", "zh") is EN
    assert negotiate("xx", None, "en-GB") is EN
    assert negotiate(None, None, None) is ZH
    assert by_name("zh_Hans") is ZH and by_name("EN-gb") is EN and by_name("ja") is None


def test_quantities_are_exact_tonnes() -> None:
    assert tonnes_text(1500, "en") == "1.500"
    assert tonnes_text(105_000, "zh_Hans") == "105.000"
    assert tonnes_text(1, "en") == "0.001"
    assert tonnes_text(0, "en") == "0.000"
    assert tonnes_text(4_580_000_001, "en") == "4,580,000.001"
    assert tonnes_text(10**16 + 7, "en") == "10,000,000,000,000.007"  # no float behind it


def test_money_is_exact_yuan() -> None:
    assert yuan_text(300_000, "en") == "3,000.00"
    assert yuan_text(1, "zh_Hans") == "0.01"
    assert yuan_text(12_000_000, "en") == "120,000.00"
    assert yuan_text(10**17 + 99, "en") == "1,000,000,000,000,000.99"


def test_exact_text_matches_babel_for_both_languages() -> None:
    from decimal import Decimal

    from babel.numbers import format_decimal

    from api.console.amounts import exact_text

    for locale in ("en", "zh_Hans"):
        for amount in (0, 7, 999, 1000, 123_456_789, -5_000_001, 10**15 + 1):
            assert exact_text(amount, 3, locale) == format_decimal(
                Decimal(amount).scaleb(-3), format="#,##0.000", locale=locale)


def test_display_units() -> None:
    assert display_unit("ENERGY") == "tce" and display_unit("COD") == "t"
