"""Every user-facing line a session prints: cue lines, link changes, notices, the live status
line and the summary. :class:`ConsoleSink` is the session's console sink, the same for live
mode and replay."""

from __future__ import annotations

from typing import Any, TextIO

from downhill_live.sinks import Sink
from downhill_live.speech import format_cue_line
from downhill_live.types import Cue

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
    print(f"  time on descents {summary['descent_time_s']:.1f} s", file=out)
    print(f"  cues fired       {sum(summary['cues'].values())} ({cues})", file=out)
    if summary["lost_samples"] or summary["decode_errors"]:
        errs = ", ".join(f"{k} x{v}" for k, v in summary["decode_errors"].items()) or "none"
        print(
            f"  data             {summary['lost_samples']} samples lost in transit; bad packets: {errs}",
            file=out,
        )


#: console lines for session events (event name -> line)
EVENT_LINES = {"link_lost": "link: sensor lost - reconnecting", "link_back": "link: sensor back"}


class ConsoleSink(Sink):
    """Prints one line per cue, link change and notice to ``out``, and keeps a one-line status
    (redrawn in place on a terminal) below them.

    Parameters
    ----------
    out : TextIO
        The console (standard output in the CLI).
    """

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._status_shown = False

    def line(self, text: str) -> None:
        """Print one line (above the status line, if one is shown)."""
        prefix = "\r\033[K" if self._status_shown else ""
        self.out.write(prefix + text + "\n")
        self.out.flush()

    def notice(self, text: str) -> None:
        """A one-line note for the user."""
        self.line(f"note: {text}")

    def status(self, text: str) -> None:
        """Redraw the status line."""
        self.out.write("\r" + text + "\033[K")
        self.out.flush()
        self._status_shown = True

    def cue(self, cue: Cue) -> None:
        self.line(format_cue_line(cue))

    def event(self, t_s: float, event: dict[str, Any]) -> None:
        text = EVENT_LINES.get(str(event.get("event")))
        if text is not None:
            self.line(text)

    def close(self) -> None:
        if self._status_shown:
            self.out.write("\n")
            self.out.flush()
            self._status_shown = False
