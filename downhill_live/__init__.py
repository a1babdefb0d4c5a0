"""downhill-live: a real-time downhill running coach.

BLE notifications or a recording -> decode (firmware profile) -> numba streaming gait core ->
cue rules (YAML profile) -> speech.
"""

from __future__ import annotations

from downhill_live.errors import ConfigError, DecodeError, DownhillError, InputError, RecordingError
from downhill_live.types import Cue, Packet, Samples, Step

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "Cue",
    "DecodeError",
    "DownhillError",
    "InputError",
    "Packet",
    "RecordingError",
    "Samples",
    "Step",
    "__version__",
]
