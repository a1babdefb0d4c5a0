"""Phone sensor logs: the Sensor Logger app's zip export and phyphox CSV exports.

Both give the phone's accelerometer (which ``import`` turns into a recording, like a CSV), and
may give its barometer (stored as the recording's pressure, so the core has a barometric grade)
and, for Sensor Logger, its location (stored as attached data, like a watch file).

Sensor Logger (zip of CSV files, one per sensor; ``time`` is UTC in nanoseconds):

- ``TotalAcceleration.csv`` (with gravity), or ``Accelerometer.csv`` (without) plus
  ``Gravity.csv``: ``x``, ``y``, ``z`` in m/s^2;
- ``Barometer.csv``: ``pressure`` in hPa;
- ``Location.csv``: ``latitude``, ``longitude``, ``altitude`` (m), ``speed`` (m/s).

phyphox (a CSV, or the zip of CSVs its "CSV (comma)" export writes): the experiment
"Acceleration (with g)" writes ``Time (s)``, ``Acceleration x (m/s^2)``, ... ; "Pressure"
writes ``Pressure (hPa)``. The zip's ``meta/time.csv`` gives the absolute start (``system
time`` of the ``START`` event, Unix seconds). "Linear Acceleration" has no gravity, which the gait
core needs: it is refused with one line.

A row that cannot be read ends that sensor's file: the rows before it are kept, and a note says
so.
"""

from __future__ import annotations

import csv
import io
import math
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import numpy as np

from downhill_live.errors import InputError
from downhill_live.files import MAX_INPUT_BYTES, check_input
from downhill_live.tools.watch import Activity, build_activity
from downhill_live.types import G_MPS2

__all__ = ["PhoneLog", "is_phone_log", "phone_to_recording", "read_phone_log"]


@dataclass
class PhoneLog:
    """What a phone log holds.

    ``t_s`` (N,) seconds from the first accelerometer sample; ``acc_g`` (N, 3) in g, gravity
    included; ``pressure_pa`` (N,) at those times or None; ``start_utc_s`` POSIX seconds of
    ``t_s == 0`` (None when the log does not say); ``location`` an :class:`Activity` of the GPS
    points or None; ``source_format`` ``"sensor-logger"`` or ``"phyphox"``.
    """

    t_s: np.ndarray
    acc_g: np.ndarray
    pressure_pa: np.ndarray | None
    start_utc_s: float | None
    location: Activity | None
    source_format: str
    notes: list[str] = field(default_factory=list)


def is_phone_log(path: str | Path) -> str | None:
    """``"sensor-logger"``, ``"phyphox"`` or None, from the content."""
    p = check_input(path)
    try:
        with open(p, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise InputError(str(p), exc.strerror or str(exc)) from None
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(p) as zf:
                names = [PurePosixPath(n).name.lower() for n in zf.namelist()]
        except (zipfile.BadZipFile, OSError):
            return None
        if "time.csv" in names or any(n.startswith("raw data") for n in names):
            return "phyphox"
        if any(n in names for n in ("totalacceleration.csv", "accelerometer.csv")):
            return "sensor-logger"
        return None
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace").lower()
    if '"time (s)"' in first or first.startswith("time (s)"):
        return "phyphox"
    return None


def _table(name: str, text: str, notes: list[str]) -> dict[str, np.ndarray]:
    """A CSV as float columns (lower-case names); a bad row ends it, with a note."""
    rows = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [h.strip().lower() for h in next(rows)]
    except StopIteration:
        return {}
    data: list[list[float]] = []
    for i, row in enumerate(rows, start=2):
        if not row:
            continue
        try:
            vals = [float(x) if x.strip() else math.nan for x in row]
        except ValueError:
            notes.append(f"{name}: line {i} is not numbers; kept the {len(data)} rows before it")
            break
        if len(vals) != len(header):
            notes.append(
                f"{name}: line {i} has {len(vals)} columns, not {len(header)}; kept the "
                f"{len(data)} rows before it"
            )
            break
        data.append(vals)
    arr = np.array(data, dtype=np.float64).reshape(-1, len(header))
    return {h: arr[:, j] for j, h in enumerate(header)}


def _zip_texts(p: str) -> dict[str, str]:
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(p, f"not a readable zip file ({exc})") from None
    with zf:
        infos = [i for i in zf.infolist() if i.filename.lower().endswith(".csv")]
        if sum(i.file_size for i in infos) > MAX_INPUT_BYTES:
            raise InputError(p, "zip holds more than 2 GiB of CSV: not read")
        out = {}
        for info in infos:
            try:
                raw = zf.read(info)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise InputError(p, f"{info.filename}: damaged in the zip ({exc})") from None
            out[info.filename] = raw.decode("utf-8", "replace")
        return out


def _pick(texts: dict[str, str], name: str) -> tuple[str, str] | None:
    for key, text in texts.items():
        if PurePosixPath(key).name.lower() == name:
            return key, text
    return None


def _xyz(t: dict[str, np.ndarray], name: str) -> np.ndarray:
    missing = [c for c in ("x", "y", "z") if c not in t]
    if missing:
        raise InputError(name, f"has no column(s) {', '.join(missing)}")
    return np.column_stack([t["x"], t["y"], t["z"]])


def read_phone_log(path: str | Path) -> PhoneLog:
    """Read a Sensor Logger zip or a phyphox CSV/zip (see the module docstring).

    Raises
    ------
    InputError
        When there is no accelerometer with gravity, or too few samples.
    """
    p = str(check_input(path))
    kind = is_phone_log(p)
    if kind == "sensor-logger":
        return _sensor_logger(p)
    if kind == "phyphox":
        return _phyphox(p)
    raise InputError(p, "not a Sensor Logger zip or a phyphox export")


def _sensor_logger(p: str) -> PhoneLog:
    texts = _zip_texts(p)
    notes: list[str] = []
    total = _pick(texts, "totalacceleration.csv")
    if total is not None:
        t = _table(total[0], total[1], notes)
        acc = _xyz(t, f"{p}:{total[0]}")
        time_ns = t.get("time")
    else:
        user, grav = _pick(texts, "accelerometer.csv"), _pick(texts, "gravity.csv")
        if user is None or grav is None:
            raise InputError(
                p,
                "Sensor Logger export has no TotalAcceleration.csv, nor Accelerometer.csv with "
                "Gravity.csv: record with those sensors on",
            )
        tu, tg = _table(user[0], user[1], notes), _table(grav[0], grav[1], notes)
        au, ag = _xyz(tu, f"{p}:{user[0]}"), _xyz(tg, f"{p}:{grav[0]}")
        time_ns = tu.get("time")
        if time_ns is None or "time" not in tg or len(tg["time"]) < 2:
            raise InputError(p, "Accelerometer.csv and Gravity.csv need a 'time' column")
        acc = au + np.column_stack([np.interp(time_ns, tg["time"], ag[:, j]) for j in range(3)])
    if time_ns is None or len(time_ns) < 2:
        raise InputError(p, "the accelerometer file has fewer than two samples with a 'time'")
    ok = np.isfinite(time_ns) & np.isfinite(acc).all(axis=1)
    time_ns, acc = time_ns[ok], acc[ok]
    order = np.argsort(time_ns, kind="stable")
    time_ns, acc = time_ns[order], acc[order] / G_MPS2
    t0 = float(time_ns[0])
    t_s = (time_ns - t0) * 1e-9
    start = t0 * 1e-9
    pressure = None
    baro = _pick(texts, "barometer.csv")
    if baro is not None:
        b = _table(baro[0], baro[1], notes)
        if "time" in b and "pressure" in b and len(b["time"]) >= 2:
            pressure = np.interp(time_ns, b["time"], b["pressure"] * 100.0)
        else:
            notes.append(f"{baro[0]}: no time/pressure columns; no barometer used")
    location = None
    loc = _pick(texts, "location.csv")
    if loc is not None:
        lt = _table(loc[0], loc[1], notes)
        if "time" in lt and len(lt["time"]):
            rows = [
                {
                    "t_utc_s": float(lt["time"][i]) * 1e-9,
                    "latitude_deg": float(lt.get("latitude", [math.nan] * (i + 1))[i]),
                    "longitude_deg": float(lt.get("longitude", [math.nan] * (i + 1))[i]),
                    "altitude_m": float(lt.get("altitude", [math.nan] * (i + 1))[i]),
                    "speed_mps": float(lt.get("speed", [math.nan] * (i + 1))[i]),
                }
                for i in range(len(lt["time"]))
            ]
            try:
                location = build_activity(
                    f"{p}:{loc[0]}", "sensor-logger", rows, sport="running", device="Sensor Logger"
                )
            except InputError as exc:
                notes.append(f"{loc[0]}: {exc.message}; no location used")
            if location is not None and location.has("speed_mps"):
                location.speed_mps[location.speed_mps < 0] = math.nan  # -1 = unknown
    return PhoneLog(t_s, acc, pressure, start, location, "sensor-logger", notes)


def _phyphox_acc(t: dict[str, np.ndarray], name: str) -> tuple[np.ndarray, np.ndarray]:
    keys = list(t)
    tcol = next((k for k in keys if k.startswith("time")), None)
    if any(k.startswith("linear acceleration") for k in keys):
        raise InputError(
            name,
            "is phyphox 'Linear Acceleration' (no gravity): record 'Acceleration (with g)' "
            "instead, the gait core needs gravity",
        )
    axes = [next((k for k in keys if k.startswith(f"acceleration {ax}")), None) for ax in "xyz"]
    if tcol is None or any(a is None for a in axes):
        raise InputError(
            name,
            "needs columns 'Time (s)' and 'Acceleration x/y/z (m/s^2)' (phyphox 'Acceleration "
            "(with g)')",
        )
    acc = np.column_stack([t[a] for a in axes if a is not None]) / G_MPS2
    return t[tcol], acc


def _phyphox(p: str) -> PhoneLog:
    notes: list[str] = []
    start = None
    pressure_t: tuple[np.ndarray, np.ndarray] | None = None
    if Path(p).read_bytes()[:4] == b"PK\x03\x04":
        texts = _zip_texts(p)
        acc_file = next(
            (
                (k, v)
                for k, v in texts.items()
                if "acceleration" in v.split("\n", 1)[0].lower()
                and PurePosixPath(k).parts[0] != "meta"
            ),
            None,
        )
        if acc_file is None:
            raise InputError(p, "phyphox export has no acceleration CSV")
        t_s, acc = _phyphox_acc(_table(acc_file[0], acc_file[1], notes), f"{p}:{acc_file[0]}")
        meta = _pick(texts, "time.csv")
        if meta is not None:
            reader = csv.DictReader(io.StringIO(meta[1]))
            for row in reader:
                low = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
                if low.get("event", "").upper() == "START":
                    try:
                        start = float(low.get("system time", "")) - float(
                            low.get("experiment time", "0") or 0
                        )
                    except ValueError:
                        start = None
                    break
        for k, v in texts.items():
            if "pressure" in v.split("\n", 1)[0].lower():
                tb = _table(k, v, notes)
                tc = next((c for c in tb if c.startswith("time")), None)
                pc = next((c for c in tb if c.startswith("pressure")), None)
                if tc and pc and len(tb[tc]) >= 2:
                    pressure_t = (tb[tc], tb[pc] * 100.0)
    else:
        text = Path(p).read_bytes().decode("utf-8", "replace")
        t_s, acc = _phyphox_acc(_table(Path(p).name, text, notes), p)
        notes.append("a phyphox CSV has no absolute time (the zip export has): no start_time")
    ok = np.isfinite(t_s) & np.isfinite(acc).all(axis=1)
    t_s, acc = t_s[ok], acc[ok]
    if len(t_s) < 2:
        raise InputError(p, "fewer than two acceleration samples")
    t0 = float(t_s[0])
    pressure = None if pressure_t is None else np.interp(t_s, pressure_t[0], pressure_t[1])
    return PhoneLog(
        t_s - t0, acc, pressure, None if start is None else start + t0, None, "phyphox", notes
    )


def phone_to_recording(
    log: PhoneLog,
    out: str | Path,
    *,
    rate_hz: float | None = None,
    placement: str = "foot",
    source_name: str = "",
) -> tuple[int, int, float, int, list[str]]:
    """Write ``log`` as a recording (see ``downhill-live import``): samples, pressure,
    ``start_time``, and the location as attached data (kind 4, method ``same device``).

    Returns
    -------
    tuple
        (records, grid samples, rate in Hz, location points attached, their columns).
    """
    # tools.transfer and tools.attach import the session and record stack: only needed here
    from downhill_live.record import append_attached, attached_docs
    from downhill_live.tools.attach import track_columns
    from downhill_live.tools.transfer import ImportedSamples, import_samples

    start = (
        None
        if log.start_utc_s is None
        else datetime.fromtimestamp(log.start_utc_s, UTC).isoformat().replace("+00:00", "Z")
    )
    samples = ImportedSamples(log.t_s, log.acc_g, log.pressure_pa, log.source_format)
    n_rec, n_smp, rate = import_samples(
        samples,
        out,
        rate_hz=rate_hz,
        placement=placement,
        source_name=source_name,
        start_time=start,
    )
    loc = log.location
    if loc is None or log.start_utc_s is None:
        return n_rec, n_smp, rate, 0, []
    cols = {c: v for c, v in track_columns(loc).items() if np.isfinite(v).any()}
    meta = {
        "source": Path(source_name).name,
        "format": log.source_format,
        "device": loc.device,
        "sport": "",
        "notes": loc.notes,
        "method": "same device",  # the phone's own clock: no alignment needed
        "lag_s": 0.0,
        "correlation": None,
        "overlap_s": round(float(loc.t_s[-1]), 1),
    }
    append_attached(out, attached_docs(loc.t_utc_s - log.start_utc_s, cols, meta, 1))
    return n_rec, n_smp, rate, len(loc), list(cols)
