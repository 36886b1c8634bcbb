"""The one reader of an application's notification log, which every follower uses.

The ledger follower, market data, the exchange writer's sync, the public view, the event
exports and the position look-ups all read the same log the same way: from the position they
last read, in pages, in commit order, decoding with the application's own mapper. A
`LogReader` holds that position, the page size and the decoding, so each follower only says
what it does with what it reads.

Notification ids may have gaps (EVENTSOURCING.md, pitfall 4): the position is the id of the
last notification read, never a count. A page's notifications are handed out before the
position moves past them, so a follower that fails halfway through a page reads it again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

#: notifications per query unless a follower says otherwise (paging by the library's 10
#: halves replay speed: EVENTSOURCING.md, pitfall 3)
PAGE = 1000


class LogReader:
    """Reads ``app``'s notification log from after ``position`` (module docstring)."""

    def __init__(self, app: Application[Any], *, position: int = 0, page: int = PAGE) -> None:
        self.app = app
        self.position = position
        self.page = page

    def head(self) -> int:
        """The id of the newest notification in the log (0: none)."""
        return int(self.app.recorder.max_notification_id() or 0)

    def skip_to_head(self) -> None:
        """Read nothing of what is stored now: the next page starts after the head."""
        self.position = self.head()

    def decode(self, notification: Notification) -> Any:
        """The domain event of a stored notification, decoded as the application decodes it."""
        return self.app.mapper.to_domain_event(notification)

    def select(self, start: int, limit: int, *, stop: int | None = None) -> list[Notification]:
        """At most ``limit`` notifications from id ``start`` on (up to ``stop`` inclusive),
        without moving the position."""
        return list(self.app.recorder.select_notifications(start, limit, stop=stop))

    def at(self, position: int) -> Notification | None:
        """The notification with id ``position``; None when there is none."""
        found = self.select(position, 1, stop=position)
        return found[0] if found and found[0].id == position else None

    def next_page(self, limit: int | None = None) -> list[Notification]:
        """The next page after the position, which moves past it."""
        found = self.select(self.position + 1, self.page if limit is None else limit)
        if found:
            self.position = found[-1].id
        return found

    def pages(self, *, stop: int | None = None,
              limit: int | None = None) -> Iterator[list[Notification]]:
        """Pages after the position until the log (or ``stop``, inclusive, or ``limit``
        notifications in all) is reached; the position moves past a page when the next one
        is asked for. With a ``stop``, a short page means nothing more is stored up to it,
        and the position moves to ``stop``."""
        read = 0
        while (stop is None or self.position < stop) and (limit is None or read < limit):
            size = self.page if limit is None else min(self.page, limit - read)
            found = self.select(self.position + 1, size, stop=stop)
            if not found:
                if stop is not None:
                    self.position = stop
                return
            yield found
            read += len(found)
            self.position = stop if stop is not None and len(found) < size else found[-1].id

    def notifications(self, *, stop: int | None = None,
                      limit: int | None = None) -> Iterator[Notification]:
        """Every notification after the position (module docstring), one by one."""
        for page in self.pages(stop=stop, limit=limit):
            yield from page

    def events(self, *, stop: int | None = None) -> Iterator[tuple[int, Any]]:
        """(position, domain event) of every notification after the position."""
        decode = self.decode
        for page in self.pages(stop=stop):
            for n in page:
                yield n.id, decode(n)


def reader_from(app: Application[Any], *, start: int = 1, page: int = PAGE) -> LogReader:
    """A reader whose first notification is the one at id ``start`` (or the next after)."""
    return LogReader(app, position=start - 1, page=page)
