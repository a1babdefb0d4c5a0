"""``downhill-live analyze``: the gait core over a recording or a CSV, one line per strike."""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import sys
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from downhill_live.core import GaitTracker
from downhill_live.errors import InputError
from downhill_live.files import check_input
from downhill_live.record import MAGIC
from downhill_live.source.arrays import replay_recording
from downhill_live.tools.jobs import run_jobs
from downhill_live.types import G_MPS2, Step, settled

#: sample rates the gait core accepts
MIN_RATE_HZ, MAX_RATE_HZ = 50.0, 2000.0
#: one output column / JSON key per field of a step (``undersampled``: ``peak_g`` of a foot/shank
#: below 200 Hz reads low; ``clipped``: the peak reached the sensor's range)
STEP_FIELDS = (
    "t_s",
    "cadence_spm",
    "peak_g",
    "peak_axial_g",
    "grade_pct",
    "on_descent",
    "gct_ms",
    "undersampled",
    "clipped",
)
log = logging.getLogger(__name__)


def parse_finite(text: str, what: str, path: str, line: int) -> float:
    """``float(text)``, or an :class:`InputError` naming ``what``, the file and the line."""
    try:
        v = float(text)
    except ValueError:
        raise InputError(path, f"{what}: {text!r} is not a number", line=line) from None
    if not math.isfinite(v):
        raise InputError(path, f"{what}: {text!r} is not finite", line=line)
    return v


def open_samples_csv(path: str) -> TextIO:
    """Open a samples CSV as text (utf-8-sig: spreadsheet programs start CSV files with a byte
    order mark); an OS error is an :class:`InputError` naming the file."""
    try:
        return open(path, newline="", encoding="utf-8-sig")  # the caller closes it
    except OSError as exc:
        raise InputError(path, exc.strerror or str(exc)) from None


def read_samples_header(fh: TextIO, path: str) -> tuple[Any, list[str], list[int]]:
    """Read the header line of a ``t_s,ax,ay,az[,pressure_pa]`` CSV: (csv reader, column
    names, indices of t_s, ax, ay, az and pressure_pa when present). Errors name line 1."""
    reader = csv.reader(fh)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise InputError(path, "file is empty; expected a header t_s,ax,ay,az", line=1) from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise InputError(path, f"not a CSV text file ({exc})", line=1) from None
    missing = [c for c in ("t_s", "ax", "ay", "az") if c not in header]
    if missing:
        raise InputError(
            path, f"missing column(s) {', '.join(missing)} in header (need t_s,ax,ay,az)", line=1
        )
    cols = [header.index(c) for c in ("t_s", "ax", "ay", "az")]
    if "pressure_pa" in header:
        cols.append(header.index("pressure_pa"))
    return reader, header, cols


def read_csv_samples(
    path: str | Path, *, units: str = "g"
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Read ``t_s,ax,ay,az[,pressure_pa]`` (extra columns ignored). Returns t_s (N,),
    acc_g (N, 3) and pressure_pa (N,) or None. Errors name the line (1-based)."""
    p = str(check_input(path))
    fh = open_samples_csv(p)
    with fh:
        reader, header, cols = read_samples_header(fh, p)
        has_p = len(cols) == 5
        rows: list[list[float]] = []
        last_t = -math.inf
        try:
            for row in reader:
                line = reader.line_num
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) < len(header):
                    raise InputError(
                        p, f"expected {len(header)} columns, got {len(row)}", line=line
                    )
                vals = [parse_finite(row[ci], f"column {header[ci]}", p, line) for ci in cols]
                if vals[0] < last_t:
                    raise InputError(
                        p, f"time goes backwards (t_s {vals[0]} after {last_t})", line=line
                    )
                last_t = vals[0]
                rows.append(vals)
        except csv.Error as exc:
            raise InputError(p, f"malformed CSV ({exc})", line=reader.line_num) from None
        except UnicodeDecodeError:
            raise InputError(p, "file is not UTF-8 text", line=reader.line_num) from None
    if len(rows) < 2:
        raise InputError(p, "needs at least two samples")
    arr = np.asarray(rows, dtype=np.float64)
    acc = arr[:, 1:4] / G_MPS2 if units == "ms2" else arr[:, 1:4]
    return arr[:, 0], np.ascontiguousarray(acc), (arr[:, 4].copy() if has_p else None)


def _step_dict(step: Step) -> dict[str, float | bool | None]:
    out: dict[str, float | bool | None] = {}
    for name in STEP_FIELDS:
        v = getattr(step, name)
        out[name] = v if isinstance(v, bool) else (None if math.isnan(v) else round(float(v), 4))
    return out


def _steps_from_recording(
    path: str, placement: str | None, progress: str | None
) -> tuple[list[Step], str]:
    session, _ = replay_recording(path, None, placement=placement, progress=progress)
    return session.steps, session.placement


def _steps_from_csv(
    path: str, placement: str | None, rate: float | None, units: str
) -> tuple[list[Step], str]:
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        raise InputError("--rate", f"must be a positive number of Hz, got {rate}")
    t_s, acc_g, pressure = read_csv_samples(path, units=units)
    dt = np.diff(t_s)
    dt = dt[dt > 0]  # repeated time stamps say nothing about the rate
    rate_hz = rate or (1.0 / float(np.median(dt)) if len(dt) else math.nan)
    if not math.isfinite(rate_hz) or rate_hz <= 0:
        raise InputError(path, "cannot infer the sample rate from t_s; give --rate")
    if not MIN_RATE_HZ <= rate_hz <= MAX_RATE_HZ:
        raise InputError(
            path,
            f"sample rate {rate_hz:.4g} Hz is outside {MIN_RATE_HZ:g}-{MAX_RATE_HZ:g} Hz"
            + ("" if rate else " (inferred from t_s; give --rate)"),
        )
    placement = placement or "foot"
    tracker = GaitTracker(rate_hz, placement)
    for warning in tracker.warnings_:  # said once, as a session says it
        log.warning("%s: %s", path, warning)
    return settled(tracker.update_many(t_s, acc_g, pressure)), placement


def steps_of(
    path: str,
    *,
    placement: str | None = None,
    rate: float | None = None,
    units: str = "g",
    progress: str | None = None,
) -> tuple[list[Step], str]:
    """The strikes of one recording or CSV file, and the placement used (a ``--jobs``
    worker runs this)."""
    check_input(path)  # before open(): a FIFO would block, /dev/zero never end
    try:
        with open(path, "rb") as fh:
            is_rec = fh.read(len(MAGIC)) == MAGIC
    except OSError as exc:
        raise InputError(path, exc.strerror or str(exc)) from None
    if is_rec:
        return _steps_from_recording(path, placement, progress)
    return _steps_from_csv(path, placement, rate, units)


def analyze(args: argparse.Namespace) -> int:
    """Run the analysis for the CLI; returns the exit code. With several inputs each line
    names its file (a ``file`` field or first column); ``--jobs`` spreads them over cores."""
    inputs: list[str] = args.input if isinstance(args.input, list) else [args.input]
    jobs = getattr(args, "jobs", 1)
    one = len(inputs) == 1
    results = run_jobs(
        steps_of,
        inputs,
        jobs=jobs,
        placement=args.placement,
        rate=args.rate,
        units=args.units,
        progress="analyzing" if one or jobs == 1 else None,
    )
    out = sys.stdout
    fields = STEP_FIELDS if one else ("file", *STEP_FIELDS)
    w = csv.writer(out, lineterminator="\n")
    if args.format == "csv":
        w.writerow(fields)
    for path, (steps, placement) in zip(inputs, results, strict=True):
        for s in steps:
            d: dict[str, object] = dict(_step_dict(s)) if one else {"file": path, **_step_dict(s)}
            if args.format == "csv":
                w.writerow(["" if d[k] is None else d[k] for k in fields])
            else:
                out.write(json.dumps(d, separators=(",", ":")) + "\n")
        cad = np.array([s.cadence_spm for s in steps])
        cad = cad[~np.isnan(cad)]
        cad_txt = f"median cadence {np.median(cad):.1f} spm" if len(cad) else "cadence unknown"
        print(f"{path}: {len(steps)} strikes ({placement}), {cad_txt}", file=sys.stderr)
    return 0
