"""The ``decode`` command: firmware-profile decoding of hex payloads."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from downhill_live.config.firmware import load_firmware_profile
from downhill_live.decode import RscDecoder, make_decoder
from downhill_live.errors import (
    ConfigError,
    DecodeError,
    DecodeErrorKind,
    DownhillError,
    InputError,
)
from downhill_live.session import apply_settings
from downhill_live.types import Packet


class PayloadError(DecodeError):
    """One payload given to ``decode`` is not valid: names the payload and says why."""

    def __init__(
        self,
        number: int,
        total: int,
        text: str,
        message: str,
        stream: str,
        kind: DecodeErrorKind = DecodeErrorKind.MALFORMED,
    ) -> None:
        super().__init__(message, kind=kind, stream=stream, index=number)
        shown = text if len(text) <= 40 else text[:37] + "..."
        self.args = (f"payload {number} of {total} ({shown}) on {stream}: {message}",)

    def __str__(self) -> str:
        return str(self.args[0])


def _parse_setting(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise InputError("--set", f"expected key=value, got {text!r}")
    value: Any
    if raw.lower() in ("true", "false"):
        value = raw.lower() == "true"
    else:
        try:
            value = float(raw)
        except ValueError:
            raise InputError("--set", f"{key}: not a number or true/false: {raw!r}") from None
        if value.is_integer() and "." not in raw:
            value = int(value)
    return key.strip(), value


def _num(x: float | None, digits: int = 6) -> float | None:
    """A JSON number: rounded, None (null) for unknown or non-finite values."""
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), digits)


def decode_payloads(
    firmware_name: str,
    hex_payloads: list[str],
    *,
    settings: dict[str, Any] | None = None,
    stream: str | None = None,
) -> list[dict[str, Any] | DownhillError]:
    """Decode payloads with a firmware profile's decoder, in order (decoder state carries over).

    Returns one JSON-ready dict per payload, or the :class:`DownhillError` that payload raised.
    Acceleration streams give ``acc_g`` ([x, y, z] per sample), ``t_s`` (sensor time relative
    to the first decoded sample) and ``lost``; RSC gives ``speed_mps``, ``cadence_spm``,
    ``stride_m``, ``distance_m``, ``running``.
    """

    firmware = apply_settings(load_firmware_profile(firmware_name), settings or {})
    if stream is None:
        if len(firmware.streams) != 1:
            raise ConfigError(
                "--stream",
                f"{firmware.name} has streams {', '.join(firmware.streams)}: name one",
            )
        stream = next(iter(firmware.streams))
    if stream not in firmware.streams:
        raise ConfigError("--stream", f"{firmware.name} has no stream {stream!r}")
    decoder = make_decoder(firmware, firmware.streams[stream])
    out: list[dict[str, Any] | DownhillError] = []
    n = len(hex_payloads)
    for i, text in enumerate(hex_payloads):
        try:
            payload = bytes.fromhex(text)
        except ValueError:
            out.append(PayloadError(i + 1, n, text, "not hex bytes", stream))
            continue
        try:
            samples = decoder.decode(Packet(0.0, stream, payload), i + 1)
        except DecodeError as exc:
            out.append(PayloadError(i + 1, n, text, exc.message, stream, exc.kind))
            continue
        doc: dict[str, Any] = {"payload": i + 1, "stream": stream, "bytes": len(payload)}
        if isinstance(decoder, RscDecoder):
            m = decoder.measurement_
            assert m is not None
            doc.update(
                speed_mps=_num(m.speed_mps),
                cadence_spm=_num(m.cadence_spm),
                stride_m=_num(m.stride_m),
                distance_m=_num(m.distance_m),
                running=m.running,
            )
        else:
            doc.update(
                n_samples=len(samples.t_s),
                t_s=[_num(t, 9) for t in samples.t_s],
                acc_g=[[_num(v) for v in row] for row in samples.acc_g],
                lost=samples.lost,
            )
        out.append(doc)
    return out


def cmd_decode(args: argparse.Namespace) -> int:
    """Print one JSON object per payload; one error line per bad payload (exit code 1)."""
    settings = dict(_parse_setting(s) for s in args.set or [])
    results = decode_payloads(args.firmware, args.hex, settings=settings, stream=args.stream)
    failed = 0
    for r in results:
        if isinstance(r, DownhillError):
            failed += 1
            print(f"downhill-live: error: {r}", file=sys.stderr)
        else:
            print(json.dumps(r, allow_nan=False), file=sys.stdout)  # strict JSON: no Infinity
    return 1 if failed else 0


def register(subparsers: Any) -> None:
    """Add the ``decode`` command."""
    d = subparsers.add_parser(
        "decode",
        help="decode notification payloads (hex) with a firmware profile",
        description="Decode payloads given as hex with a firmware profile's decoder, in order; "
        "print one JSON object per payload (acceleration: acc_g and t_s; RSC: speed_mps, "
        "cadence_spm, stride_m, distance_m, running). A bad payload gives one error line naming "
        "it, and exit code 1.",
    )
    d.add_argument("firmware", metavar="FIRMWARE", help="firmware profile name or YAML file")
    d.add_argument("hex", nargs="+", metavar="HEX", help="payload bytes in hex")
    d.add_argument(
        "--set",
        action="append",
        metavar="key=value",
        help="stream setting, e.g. factor=0.000244 (PMD) or rate_hz=100; repeatable",
    )
    d.add_argument("--stream", metavar="NAME", help="stream (for profiles with several)")
    d.set_defaults(func=cmd_decode)
