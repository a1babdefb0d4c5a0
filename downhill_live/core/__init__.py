"""Streaming gait core: foot strikes, cadence, impact, grade and descent state."""

from __future__ import annotations

from downhill_live.core.tracker import GaitTracker

__all__ = ["GaitTracker"]
