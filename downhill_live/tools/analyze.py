"""``downhill-live analyze``: the gait core over a recording or a CSV, one line per strike."""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import numpy as np

from downhill_live.core import GaitTracker
from downhill_live.errors import InputError
from downhill_live.files import check_input
from downhill_live.record import MAGIC
from downhill_live.session import session_from_recording
from downhill_live.types import G_MPS2, Step

#: sample rates the gait core accepts
MIN_RATE_HZ, MAX_RATE_HZ = 50.0, 2000.0
STEP_FIELDS = ("t_s", "cadence_spm", "peak_g", "peak_axial_g", "grade_pct", "on_descent", "gct_ms")


def parse_finite(text: str, what: str, path: str, line: int) -> float:
    """``float(text)``, or an :class:`InputError` naming ``what``, the file and the line."""
    try:
        v = float(text)
    except ValueError:
        raise InputError(path, f"{what}: {text!r} is not a number", line=line) from None
    if not math.isfinite(v):
        raise InputError(path, f"{what}: {text!r} is not finite", line=line)
    return v


def read_csv_samples(
    path: str | Path, *, units: str = "g"
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Read ``t_s,ax,ay,az[,pressure_pa]`` (extra columns ignored). Returns t_s (N,),
    acc_g (N, 3) and pressure_pa (N,) or None. Errors name the line (1-based)."""
    p = str(check_input(path))
    try:
        # utf-8-sig: spreadsheet programs start CSV files with a byte order mark
        fh = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InputError(p, exc.strerror or str(exc)) from None
    with fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise InputError(p, "file is empty; expected a header t_s,ax,ay,az", line=1) from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(p, f"not a CSV text file ({exc})", line=1) from None
        missing = [c for c in ("t_s", "ax", "ay", "az") if c not in header]
        if missing:
            raise InputError(
                p, f"missing column(s) {', '.join(missing)} in header (need t_s,ax,ay,az)", line=1
            )
        cols = [header.index(c) for c in ("t_s", "ax", "ay", "az")]
        has_p = "pressure_pa" in header
        if has_p:
            cols.append(header.index("pressure_pa"))
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


def _steps_from_recording(args: argparse.Namespace) -> tuple[list[Step], str]:

    session, rec = session_from_recording(args.input, None, placement=args.placement)
    session.process_all(rec.packets, progress="analyzing")
    return session.steps, session.placement


def _steps_from_csv(args: argparse.Namespace) -> tuple[list[Step], str]:

    if args.rate is not None and not (math.isfinite(args.rate) and args.rate > 0):
        raise InputError("--rate", f"must be a positive number of Hz, got {args.rate}")
    t_s, acc_g, pressure = read_csv_samples(args.input, units=args.units)
    dt = np.diff(t_s)
    dt = dt[dt > 0]  # repeated time stamps say nothing about the rate
    rate = args.rate or (1.0 / float(np.median(dt)) if len(dt) else math.nan)
    if not math.isfinite(rate) or rate <= 0:
        raise InputError(args.input, "cannot infer the sample rate from t_s; give --rate")
    if not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
        raise InputError(
            args.input,
            f"sample rate {rate:.4g} Hz is outside {MIN_RATE_HZ:g}-{MAX_RATE_HZ:g} Hz"
            + ("" if args.rate else " (inferred from t_s; give --rate)"),
        )
    placement = args.placement or "foot"
    tracker = GaitTracker(rate, placement)
    return tracker.update_many(t_s, acc_g, pressure), placement


def analyze(args: argparse.Namespace) -> int:
    """Run the analysis for the CLI; returns the exit code."""
    check_input(args.input)  # before open(): a FIFO would block, /dev/zero never end
    try:
        with open(args.input, "rb") as fh:
            is_rec = fh.read(len(MAGIC)) == MAGIC
    except OSError as exc:
        raise InputError(args.input, exc.strerror or str(exc)) from None
    steps, placement = (_steps_from_recording if is_rec else _steps_from_csv)(args)
    out = sys.stdout
    if args.format == "csv":
        w = csv.writer(out, lineterminator="\n")
        w.writerow(STEP_FIELDS)
        for s in steps:
            d = _step_dict(s)
            w.writerow(["" if d[k] is None else d[k] for k in STEP_FIELDS])
    else:
        for s in steps:
            out.write(json.dumps(_step_dict(s), separators=(",", ":")) + "\n")
    cad = np.array([s.cadence_spm for s in steps])
    cad = cad[~np.isnan(cad)]
    cad_txt = f"median cadence {np.median(cad):.1f} spm" if len(cad) else "cadence unknown"
    print(f"{args.input}: {len(steps)} strikes ({placement}), {cad_txt}", file=sys.stderr)
    return 0
