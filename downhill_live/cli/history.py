"""The ``history`` command: a runner's progress across sessions, per grade band."""

from __future__ import annotations

import argparse
import io
import sys
from typing import Any, TextIO

from downhill_live.errors import DownhillError
from downhill_live.files import atomic_write, claim_output
from downhill_live.history import BANDS, default_path, open_history

DEFAULT_RUNNER = "default"


def _fmt(x: float | None, spec: str = "+.1f") -> str:
    return "n/a" if x is None else format(x, spec)


def print_table(rows: list[dict[str, Any]], out: TextIO) -> None:
    print(
        f"{'session':>7}  {'started (UTC)':<20}  {'band':<8} {'descents':>8} {'time s':>7}  "
        f"{'cadence vs flat %':>17}  {'impact vs flat %':>16}  {'in band %':>9}  {'cues':>4}  "
        f"{'fade':>4}",
        file=out,
    )
    for r in rows:
        print(
            f"{r['session']:>7}  {r['started_utc']:<20}  {r['band']:<8} {r['descents']:>8} "
            f"{r['time_s']:>7.0f}  {_fmt(r['cadence_vs_flat_pct']):>17}  "
            f"{_fmt(r['impact_vs_flat_pct']):>16}  {_fmt(r['in_band_pct'], '.0f'):>9}  "
            f"{r['cues']:>4}  {r['fade_level']:>4}",
            file=out,
        )


def plot_png(rows: list[dict[str, Any]], runner: str) -> bytes:
    """Three panels over sessions (one line per grade band): cadence and impact against flat,
    and the share of descent time in band."""
    try:  # lazy: matplotlib is the optional 'plot' extra, and slow to import
        import matplotlib
        import matplotlib.ticker

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # after use("Agg"): no display needed
    except ImportError:
        raise DownhillError(
            "the plot needs matplotlib: pip install 'downhill-live[plot]'"
        ) from None
    fig, axes = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
    panels = (
        ("cadence_vs_flat_pct", "cadence vs flat (%)"),
        ("impact_vs_flat_pct", "impact vs flat (%)"),
        ("in_band_pct", "descent time in band (%)"),
    )
    sessions = sorted({r["session"] for r in rows})
    x_of = {s: i + 1 for i, s in enumerate(sessions)}
    for ax, (key, label) in zip(axes, panels, strict=True):
        for band, *_ in BANDS[1:]:
            pts = [
                (x_of[r["session"]], r[key])
                for r in rows
                if r["band"] == band and r[key] is not None
            ]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"{band} %")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if key != "in_band_pct":
            ax.axhline(0.0, color="grey", lw=0.8)
    axes[0].legend(loc="best", fontsize="small", title="grade band")
    axes[0].set_title(f"downhill-live: progress of {runner}")
    axes[-1].set_xlabel("session")
    axes[-1].xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def cmd_history(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Print the runner's table (and write the plot with ``--plot``)."""
    out = out or sys.stdout
    if args.plot:
        claim_output(args.plot, inputs=[args.history], force=args.force)
    path = args.history or default_path()
    with open_history(path, create=False) as h:
        runners = h.runners()
        runner = args.runner or (runners[0] if len(runners) == 1 else DEFAULT_RUNNER)
        rows = list(h.progress(runner))
        n = len(h.sessions(runner))
    print(f"history {path}: runner {runner}, {n} session(s)", file=out)
    if not args.runner and len(runners) > 1:
        print(f"runners: {', '.join(runners)} (choose with --runner NAME)", file=out)
    if not rows:
        print("no descents stored yet", file=out)
    else:
        print_table(rows, out)
    if args.plot:
        atomic_write(args.plot, plot_png(rows, runner))
        print(f"wrote {args.plot}", file=out)
    return 0


def add_history_options(p: argparse.ArgumentParser, *, save: bool) -> None:
    """``--history PATH`` and ``--runner NAME`` (and ``--save-history`` / ``--no-history``)."""
    p.add_argument(
        "--history",
        metavar="PATH",
        help=f"runner history database (default: {default_path()})",
    )
    p.add_argument("--runner", metavar="NAME", help=f"whose history (default: {DEFAULT_RUNNER!r})")
    if save:
        p.add_argument(
            "--save-history",
            action="store_true",
            help="store this session in the runner history (replay never writes it otherwise)",
        )
    else:
        p.add_argument(
            "--no-history",
            action="store_true",
            help="neither read nor write the runner history (no stored baselines, no fading)",
        )


def register(subparsers: Any) -> None:
    """Add the ``history`` command."""
    r = subparsers.add_parser(
        "history",
        help="a runner's progress across sessions, per grade band (table and plot)",
        description="Show the runner history: per session and grade band, cadence and impact "
        "against the flat, the share of descent time in band, the cues said and the fading "
        "level; --plot writes the same as a PNG (matplotlib).",
    )
    r.add_argument("--history", metavar="PATH", help=f"database (default: {default_path()})")
    r.add_argument("--runner", metavar="NAME", help="whose progress (default: the only one)")
    r.add_argument("--plot", metavar="OUT.png", help="also write a plot")
    r.add_argument("--force", action="store_true", help="replace an existing --plot file")
    r.set_defaults(func=cmd_history)
