"""FIT activity files (Garmin, COROS, Suunto, Wahoo, Polar, the Strava app), read with ``fitdecode``.

``fitdecode`` is a maintained, pure-Python FIT decoder (MIT) that knows the whole FIT profile,
including compressed timestamps, chained files and developer fields, and reports damage as
exceptions we can catch mid-file: every ``record`` message decoded before a break is kept.

Fields used from ``record`` messages: ``timestamp``, ``enhanced_altitude``/``altitude`` (m),
``distance`` (m), ``enhanced_speed``/``speed`` (m/s), ``heart_rate`` (bpm), ``cadence`` +
``fractional_cadence`` (strides per minute for running: doubled to steps per minute),
``stance_time`` (ms) and ``position_lat``/``position_long`` (semicircles). The sport comes from
the ``sport`` or ``session`` message; ``file_id.type`` tells an activity from a settings,
course or other FIT file.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import fitdecode

from downhill_live.errors import InputError
from downhill_live.files import check_input
from downhill_live.tools.watch import MAX_ACTIVITY_BYTES, Activity, build_activity

__all__ = ["read_fit"]

_SEMICIRCLE_DEG = 180.0 / 2**31


def _num(frame: Any, *names: str) -> float:
    """The first of ``names`` the message has as a finite number, else nan."""
    for name in names:
        if frame.has_field(name):
            v = frame.get_value(name, fallback=None)
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                return float(v)
    return math.nan


def _text(frame: Any, name: str) -> str:
    v = frame.get_value(name, fallback=None) if frame.has_field(name) else None
    return "" if v is None else str(v)


def read_fit(path: str | Path) -> Activity:
    """Read the ``record`` messages of a FIT activity.

    Returns
    -------
    Activity
        ``source_format`` ``"fit"``; ``notes`` name damage (where decoding stopped and how many
        records were kept) and a sport that is not running.

    Raises
    ------
    InputError
        For a file whose header is unreadable, a FIT file that is not an activity (settings,
        course, ...) or one with no time-stamped record.
    """
    p = str(check_input(path, max_bytes=MAX_ACTIVITY_BYTES))
    first = _decode(p, fitdecode.CrcCheck.RAISE)
    if first.crc_failed and not first.messages:
        # the header's checksum: decode anyway, the messages carry their own structure
        second = _decode(p, fitdecode.CrcCheck.DISABLED)
        if not second.rows:
            raise InputError(p, "not a readable FIT file: corrupt header (checksum mismatch)")
        second.notes.insert(
            0,
            f"FIT header checksum does not match; decoded anyway: kept {len(second.rows)} records",
        )
        first = second
    rows, notes, file_type = first.rows, first.notes, first.file_type
    sport, device, messages = first.sport, first.device, first.messages
    if file_type and file_type != "activity":
        raise InputError(
            p,
            f"is a FIT {file_type} file, not an activity ({messages} messages, no run to read)",
        )
    if not rows:
        raise InputError(
            p, "FIT file has no record messages: " + ("; ".join(notes) or "nothing to read")
        )
    return build_activity(p, "fit", rows, sport=sport, device=device, notes=notes)


@dataclass
class _Decoded:
    rows: list[dict[str, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    file_type: str = ""
    sport: str = ""
    device: str = ""
    messages: int = 0
    crc_failed: bool = False


def _decode(p: str, check_crc: Any) -> _Decoded:
    """Decode the messages of interest up to the first break (noted in ``notes``)."""
    out = _Decoded()
    rows, notes = out.rows, out.notes
    try:
        fh = open(p, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InputError(p, exc.strerror or str(exc)) from None
    with fh, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fitdecode warns about unknown fields; we raise
        try:
            reader = fitdecode.FitReader(
                fh, check_crc=check_crc, error_handling=fitdecode.ErrorHandling.RAISE
            )
            for frame in reader:
                if not isinstance(frame, fitdecode.FitDataMessage):
                    continue
                out.messages += 1
                name = frame.name
                if name == "record":
                    rows.append(_record_row(frame))
                elif name == "file_id" and not out.file_type:
                    out.file_type = _text(frame, "type")
                    out.device = " ".join(
                        x for x in (_text(frame, "manufacturer"), _text(frame, "product")) if x
                    )
                elif name in ("sport", "session") and not out.sport:
                    out.sport = _text(frame, "sport")
        except fitdecode.FitHeaderError as exc:
            if not rows:
                raise InputError(p, f"not a readable FIT file: corrupt header ({exc})") from None
            notes.append(
                f"a second FIT header is corrupt ({exc}); kept {len(rows)} records before it"
            )
        except fitdecode.FitCRCError:
            out.crc_failed = True
            notes.append(
                f"FIT checksum does not match (the file was changed or damaged); kept all "
                f"{len(rows)} records decoded"
            )
        except fitdecode.FitEOFError:
            notes.append(
                f"FIT file is truncated at byte {fh.tell()}; kept the {len(rows)} records before "
                "the cut"
            )
        except Exception as exc:  # a library that chokes must not cost the file
            what = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            notes.append(
                f"FIT decoding stopped near byte {fh.tell()} ({what}); kept the {len(rows)} "
                "records before it"
            )
    return out


def _record_row(frame: Any) -> dict[str, float]:
    ts = frame.get_value("timestamp", fallback=None) if frame.has_field("timestamp") else None
    row: dict[str, float] = {"t_utc_s": ts.timestamp() if isinstance(ts, datetime) else math.nan}
    row["altitude_m"] = _num(frame, "enhanced_altitude", "altitude")
    row["distance_m"] = _num(frame, "distance")
    row["speed_mps"] = _num(frame, "enhanced_speed", "speed")
    row["heart_rate_bpm"] = _num(frame, "heart_rate")
    cad = _num(frame, "cadence")
    frac = _num(frame, "fractional_cadence")
    row["cadence_spm"] = 2.0 * (cad + (0.0 if math.isnan(frac) else frac))
    row["stance_time_ms"] = _num(frame, "stance_time")
    lat, lon = _num(frame, "position_lat"), _num(frame, "position_long")
    row["latitude_deg"] = lat * _SEMICIRCLE_DEG
    row["longitude_deg"] = lon * _SEMICIRCLE_DEG
    return row
