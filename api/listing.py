"""Paging over catalogue keys: only the requested page's aggregates are loaded."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from api.deps import Page, PageParams, paginate

K = TypeVar("K")
T = TypeVar("T")


def page_of(keys: Sequence[K], page: PageParams, load: Callable[[K], T]) -> Page[T]:
    """The page of ``keys`` the request asks for, each key mapped through ``load``."""
    chosen = paginate(keys, page)
    return Page[T](items=[load(k) for k in chosen.items], offset=chosen.offset,
                   limit=chosen.limit, total=chosen.total)
