"""Where raw packets come from: a BLE sensor (:class:`~downhill_live.source.ble.LiveRunner`
puts its notifications on a :class:`QueueSource`), a recording (:class:`~downhill_live.source.replay.
ReplaySource`) or a virtual sensor on an in-process radio (:mod:`~downhill_live.source.virtual`,
the optional ``sim`` extra, which is BLE again on the other side of a virtual link).

Every source yields :class:`~downhill_live.types.Packet` objects in arrival order, stamped with
their receive time, and session events as ``(t_s, {"event": ...})`` pairs; a
:class:`~downhill_live.session.Session` takes both, whatever the source.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Protocol, runtime_checkable

from downhill_live.types import Packet

__all__ = ["QueueSource", "Source", "SourceItem"]

#: what a source yields: a raw packet, or a session event at receive time ``t_s``
SourceItem = Packet | tuple[float, dict[str, Any]]


@runtime_checkable
class Source(Protocol):
    """A stream of raw packets and events (see the module docstring)."""

    @property
    def description(self) -> str:
        """One line for the user: what is being read."""
        ...

    def __aiter__(self) -> AsyncIterator[SourceItem]:
        """Items at their own pace (live, or a recording replayed at some speed)."""
        ...


class QueueSource:
    """A source over an :class:`asyncio.Queue`: what producers (the BLE notification callback,
    the link watcher) put on it, in order, until ``None`` ends it.

    Examples
    --------
    >>> import asyncio
    >>> async def demo() -> list[str]:
    ...     q: asyncio.Queue = asyncio.Queue()
    ...     for item in (Packet(0.0, "acc", b"\\x01"), (0.1, {"event": "link_lost"}), None):
    ...         q.put_nowait(item)
    ...     return [type(i).__name__ async for i in QueueSource(q, "test queue")]
    >>> asyncio.run(demo())
    ['Packet', 'tuple']
    """

    def __init__(self, queue: asyncio.Queue[SourceItem | None], description: str) -> None:
        self.queue = queue
        self._description = description

    @property
    def description(self) -> str:
        """One line for the user."""
        return self._description

    async def __aiter__(self) -> AsyncIterator[SourceItem]:
        while True:
            item = await self.queue.get()
            if item is None:
                return
            yield item
