"""Every user-facing line a session prints: cue lines, link changes, notices, the live status
line and the summary. :class:`ConsoleSink` is the session's console sink, the same for live
mode and replay."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import queue
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from downhill_live import core
from downhill_live.core import GaitTracker
from downhill_live.odometer import fmt_pace
from downhill_live.sinks import Sink
from downhill_live.speech import format_cue_line
from downhill_live.tools.descents import DescentStats
from downhill_live.types import PLACEMENTS, Cue

#: the program name in every error line
PROG = "downhill-live"


def print_summary(summary: dict[str, Any], out: TextIO) -> None:
    pk = summary["peak_g"]
    peak = ", ".join(f"{k} {v:.2f}" for k, v in pk.items()) if pk else "n/a"
    cues = ", ".join(f"{k} x{v}" for k, v in summary["cues"].items()) or "none"

    def f(v: float | None, unit: str) -> str:
        return "n/a" if v is None else f"{v:.1f} {unit}"

    print("summary:", file=out)
    print(f"  steps            {summary['steps']} over {summary['duration_s']:.1f} s", file=out)
    print(
        f"  cadence          flat {f(summary['cadence_flat_spm'], 'spm')}, "
        f"descent {f(summary['cadence_descent_spm'], 'spm')}",
        file=out,
    )
    print(f"  peak impact (g)  {peak}", file=out)
    print(
        f"  peak impact      flat median {f(summary['peak_flat_g'], 'g')}, "
        f"descent median {f(summary['peak_descent_g'], 'g')}",
        file=out,
    )
    if summary.get("distance_m") is not None:  # only when the set-up measures it
        print(
            f"  distance         {summary['distance_m'] / 1000:.2f} km, average pace "
            f"{fmt_pace(summary.get('pace_s_per_km'))} /km ({summary['distance_source']})",
            file=out,
        )
    print(f"  time on descents {summary['descent_time_s']:.1f} s", file=out)
    print(f"  cues fired       {sum(summary['cues'].values())} ({cues})", file=out)
    if summary["lost_samples"] or summary["decode_errors"]:
        errs = ", ".join(f"{k} x{v}" for k, v in summary["decode_errors"].items()) or "none"
        print(
            f"  data             {summary['lost_samples']} samples lost in transit; bad packets: {errs}",
            file=out,
        )


#: console lines for session events (event name -> line)
EVENT_LINES = {
    "link_lost": "link: sensor lost - reconnecting",
    "link_back": "link: sensor back",
    "link_missing": "link: sensor not found - coaching without it, still looking for it",
    "link_found": "link: sensor found",
}


class ConsoleSink(Sink):
    """Prints one line per cue, link change and notice to ``out``, and keeps a one-line status
    (redrawn in place on a terminal) below them.

    The data path never waits on the console: lines go on a bounded queue that a writer thread
    empties, so a stdout pipe nobody reads (or a terminal paused with Ctrl-S) cannot stall the
    recording; when the queue is full, lines are dropped, counted in :attr:`dropped_lines`, and
    the count is printed at :meth:`close`.

    Parameters
    ----------
    out : TextIO
        The console (standard output in the CLI).
    max_pending : int
        Lines that may wait for a slow console before new ones are dropped.
    """

    def __init__(self, out: TextIO, *, max_pending: int = 1000) -> None:
        self.out = out
        self.dropped_lines = 0
        self._status_shown = False
        self._queue: queue.Queue[str | None] = queue.Queue(maxsize=max_pending)
        self._thread = threading.Thread(target=self._drain, name="console", daemon=True)
        self._thread.start()
        self._closed = False

    def _drain(self) -> None:
        while True:
            text = self._queue.get()
            if text is None:
                return
            try:
                self.out.write(text)
                self.out.flush()
            except (OSError, ValueError):  # a closed pipe: nothing more can be shown
                return

    def _put(self, text: str) -> None:
        if self._closed:
            return
        try:
            self._queue.put_nowait(text)
        except queue.Full:
            self.dropped_lines += 1

    def line(self, text: str) -> None:
        """Print one line (above the status line, if one is shown)."""
        prefix = "\r\033[K" if self._status_shown else ""
        self._put(prefix + text + "\n")

    def notice(self, text: str) -> None:
        """A one-line note for the user."""
        self.line(f"note: {text}")

    def status(self, text: str) -> None:
        """Redraw the status line, cut to the terminal's width (a line that wraps would leave
        a new line on every redraw)."""
        width = shutil.get_terminal_size((80, 24)).columns
        if len(text) >= width:
            text = text[: max(width - 2, 1)] + "~"
        self._put("\r" + text + "\033[K")
        self._status_shown = True

    def cue(self, cue: Cue) -> None:
        self.line(format_cue_line(cue))

    def event(self, t_s: float, event: dict[str, Any]) -> None:
        text = EVENT_LINES.get(str(event.get("event")))
        if text is not None:
            device = event.get("device")  # several devices: the one that changed
            if device is not None:
                text = text.replace("sensor", str(device), 1)
            if event.get("address"):  # found after the start: which device it is
                text += f" ({event.get('name') or 'no name'}, {event['address']})"
            self.line(text)

    def close(self, timeout_s: float = 5.0) -> None:
        """Print what is queued (waiting at most ``timeout_s`` for the console), then stop."""
        if self._closed:
            return
        if self._status_shown:
            self._put("\n")
            self._status_shown = False
        if self.dropped_lines:
            self._put(
                f"note: {self.dropped_lines} console line(s) dropped: the console was not read\n"
            )
        self._closed = True
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout_s)
        self._thread.join(timeout_s)


def detector_cached() -> bool:
    """Whether the gait core's compiled kernels are in numba's cache (or numba is not used)."""
    if importlib.util.find_spec("numba") is None or os.environ.get("NUMBA_DISABLE_JIT") == "1":
        return True  # plain Python: nothing to compile
    cache_dir = os.environ.get("NUMBA_CACHE_DIR")  # numba's own setting, when given
    where = Path(cache_dir) if cache_dir else Path(core.__file__).parent
    return any(where.rglob("*.nbi"))


def prepare_detector(out: TextIO | None = None) -> None:
    """Compile the gait core's kernels once, outside any event loop, saying so on one line the
    first time ("preparing the detector, first run only"); ``./run`` does it during set-up."""
    if not detector_cached() and out is not None:
        print("preparing the detector, first run only (about 10 s)...", file=out, flush=True)
    t_s = np.arange(400) / 200.0
    acc_g = np.tile([0.0, 0.0, 1.0], (400, 1))
    pressure_pa = np.full(400, 101_325.0)
    for placement in PLACEMENTS:  # each placement's parameters, with and without a barometer
        GaitTracker(200.0, placement).update_many(t_s, acc_g)
        GaitTracker(200.0, placement).update_many(t_s, acc_g, pressure_pa)


def prepare_live() -> None:
    """:func:`prepare_detector`, and the compiled entry live packets take
    (:func:`downhill_live.fused.warm_fused`): ~0.3 s to load from numba's cache, not to be paid
    by the first packet."""
    prepare_detector()
    from downhill_live.fused import warm_fused  # lazy: only live mode needs it

    warm_fused()


def print_descents(descents: Sequence[DescentStats], out: TextIO) -> None:
    """One summary line per descent (``Session.descents()``, or
    :func:`~downhill_live.tools.descents.descent_stats`): when and how long, grade, cadence
    and impact against the flat baseline (median, and the share of steps past the rule's
    threshold), cues said. One median over all descents hides a 45-s stretch of overstriding;
    these lines do not."""
    for d in descents:

        def pct(v: float | None) -> str:
            return "n/a" if v is None else f"{v:+.1f} %"

        def share(v: float | None, thr: float | None, sign: str, unit: str) -> str:
            if v is None or thr is None:
                return ""
            return f", {100 * v:.0f} % of steps {sign} {thr:.1f} {unit}"

        cad = "n/a" if d.cadence_median_spm is None else f"{d.cadence_median_spm:.1f} spm"
        peak = "n/a" if d.peak_median_g is None else f"{d.peak_median_g:.1f} g"
        grade = "n/a" if d.grade_mean_pct is None else f"{d.grade_mean_pct:.1f} %"
        said = sum(1 for c in d.cues if not c.rule.startswith("descent."))
        print(
            f"  descent {d.number:<8} {d.start}-{d.end} ({d.duration}), grade {grade}; "
            f"cadence {cad} ({pct(d.cadence_vs_flat_pct)} vs flat"
            f"{share(d.cadence_below_share, d.cadence_threshold_spm, '<', 'spm')}); "
            f"impact {peak} ({pct(d.peak_vs_flat_pct)}"
            f"{share(d.peak_above_share, d.peak_threshold_g, '>', 'g')}); cues {said}",
            file=out,
        )


def add_force_option(parser: Any, what: str = "an existing output file") -> None:
    """The ``--force`` flag of a command that writes files (see :mod:`downhill_live.files`)."""
    parser.add_argument("--force", action="store_true", help=f"replace {what} (never an input)")
