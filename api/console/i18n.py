"""Languages of the console: Simplified Chinese (the programme's own) and English.

Messages are Babel catalogues: the English text is the msgid, ``locale/zh_Hans/LC_MESSAGES/
messages.po`` holds the Chinese, with the domain's own terms (排污权, 用能权, 富余指标, 确权,
清洁生产审核, 统一社会信用代码 …). The ``.po`` is compiled with Babel when the console starts
(``read_po`` → ``write_mo``, in memory), so no compiled file can go stale. ``make i18n``
re-extracts the msgids from the templates and ``api/console/terms.py`` and updates the
catalogue; a test fails on any msgid without a translation.

The language of a request: ``?lang=`` (which also sets the ``lang`` cookie), else the cookie,
else the browser's ``Accept-Language``, else Simplified Chinese.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from gettext import GNUTranslations, NullTranslations
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
COOKIE = "lang"


@dataclass(frozen=True)
class Language:
    """One language of the console: its catalogue name (Babel's) and its BCP 47 tag."""

    locale: str  # Babel / CLDR locale name, as the catalogue folder is named
    tag: str  # for <html lang> and ?lang=
    label: str  # in its own language, for the switcher


ZH = Language("zh_Hans", "zh-Hans", "简体中文")
EN = Language("en", "en", "English")
LANGUAGES = (ZH, EN)
DEFAULT = ZH


def po_file(language: Language) -> Path:
    return LOCALE_DIR / language.locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(language: Language) -> NullTranslations:
    """The language's messages; English is the msgids themselves."""
    path = po_file(language)
    if not path.is_file():
        return NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language.locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return GNUTranslations(compiled)


def by_name(name: str | None) -> Language | None:
    """The language a ``?lang=`` or cookie value names (``zh``, ``zh-Hans``, ``zh_CN``, ``en``,
    ``en-GB`` …), if it names one of ours."""
    if not name:
        return None
    primary = name.strip().replace("_", "-").split("-")[0].lower()
    return {"zh": ZH, "en": EN}.get(primary)


def from_accept_language(header: str | None) -> Language | None:
    """The first of our languages in the browser's preference order (q-values honoured; any
    Chinese, simplified or not, gets the Simplified Chinese console)."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for n, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if tag and q > 0:
            ranked.append((-q, n, tag))
    for _, _, tag in sorted(ranked):
        language = by_name(tag)
        if language is not None:
            return language
    return None


def negotiate(query: str | None, cookie: str | None, accept: str | None) -> Language:
    return by_name(query) or by_name(cookie) or from_accept_language(accept) or DEFAULT
