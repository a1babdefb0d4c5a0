"""The worked example of docs/adding-a-sensor.md, read from the page itself: the profile
parses, a packet built from the page's C struct decodes as the page says, and the rate is one
at which the gait core measures a shin's impact peaks (not marked undersampled)."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np

from downhill_live.config.firmware import parse_firmware_profile
from downhill_live.core import GaitTracker
from downhill_live.decode.layout import LayoutDecoder
from downhill_live.types import Packet

DOC = Path(__file__).resolve().parents[2] / "docs" / "adding-a-sensor.md"


def test_the_worked_example_decodes_as_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    (yaml_text,) = re.findall(r"```yaml\n(.*?)```", text.split("## Reference")[0], flags=re.S)
    prof = parse_firmware_profile(yaml_text, f"{DOC.name}#worked-example")
    assert prof.placement == "shank" and prof.matches("ESP-RUN 01")
    lay = prof.streams["acc"].layout
    assert lay is not None
    # the struct: u8 seq, u32 t_ms (first sample), two samples of i16 x/y/z at 1 mg, big-endian
    dec = LayoutDecoder(lay, stream="acc")
    first = dec.decode(
        Packet(0.0, "acc", struct.pack(">BIhhhhhh", 7, 1500, 1000, -500, 250, 0, 2000, -1000))
    )
    # axis_map [-ay, ax, az]: the board's y axis points forward
    np.testing.assert_allclose(first.acc_g, [[0.5, 1.0, 0.25], [-2.0, 0.0, -1.0]])
    nxt = dec.decode(Packet(0.01, "acc", struct.pack(">BIhhhhhh", 8, 1510, 0, 0, 0, 0, 0, 0)))
    np.testing.assert_allclose(np.concatenate([first.t_s, nxt.t_s]), [0.0, 0.005, 0.01, 0.015])
    assert nxt.lost == 0
    # "every 10 ms" with two samples: the rate the profile states
    assert lay.rate_hz == 2 / 0.010
    assert GaitTracker(lay.rate_hz, prof.placement).warnings_ == []
