"""A recording as a source: its packets at their recorded pace (scaled by ``speed``), or in
batches as fast as possible (same steps and cues: the core does not depend on chunking)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Sequence

from downhill_live.record import Recording
from downhill_live.source import SourceItem
from downhill_live.types import Packet

__all__ = ["ReplaySource"]


class ReplaySource:
    """Packets of a recording, in recorded order.

    Parameters
    ----------
    recording : Recording
        A recording read with :func:`~downhill_live.record.read_recording`.
    path : str
        Its file name (for the description).
    speed : float
        1 = real time, 10 = ten times faster; used by ``async for`` only.
    """

    def __init__(self, recording: Recording, path: str, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self.recording = recording
        self.path = path
        self.speed = speed

    @property
    def description(self) -> str:
        """One line for the user."""
        return f"recording {self.path} ({len(self.recording.packets)} packets)"

    async def __aiter__(self) -> AsyncIterator[SourceItem]:
        packets = self.recording.packets
        t_wall0 = time.monotonic()
        t_rx0 = packets[0].t_rx_s if packets else 0.0
        for packet in packets:
            delay_s = (packet.t_rx_s - t_rx0) / self.speed - (time.monotonic() - t_wall0)
            if delay_s > 0:
                await asyncio.sleep(delay_s)
            yield packet

    def batches(self, size: int = 2048) -> Iterator[Sequence[Packet]]:
        """All packets at once, in slices of ``size`` (for :meth:`Session.process_many`)."""
        packets = self.recording.packets
        for k in range(0, len(packets), size):
            yield packets[k : k + size]
