"""``replay --verify``: compare the cues a replay decides with the cues stored in a recording.

A live session stores every spoken cue (kind-2 records, at sensor time). Replaying the same
recording with the same cue profile must give the same cues at the same sensor times; this
module reports the differences in a form a person can read.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TextIO

from downhill_live.types import Cue

#: two cues are "the same" when rule and phrase agree and sensor times differ by at most this
TIME_TOL_S = 1e-6
#: unmatched cues of one rule this close in time are reported as one changed cue
_NEAR_S = 5.0
#: exit code of ``replay --verify`` when the cues differ
VERIFY_MISMATCH_EXIT = 1


def _fmt(cue: Cue) -> str:
    return f'[{cue.t_s:10.4f} s] {cue.rule} "{cue.phrase}"'


def verify_cues(
    recorded: Sequence[Cue], replayed: Sequence[Cue], *, tol_s: float = TIME_TOL_S
) -> list[str]:
    """Differences between stored and replayed cues; empty when they are identical.

    Cues match when rule and phrase are equal and their sensor times differ by at most
    ``tol_s``. Each matched pair is used once. Unmatched cues of the same rule within 5 s of
    each other are reported as one *changed* cue; the rest as *missing* (stored, not replayed)
    or *extra* (replayed, not stored).

    Parameters
    ----------
    recorded : sequence of Cue
        Cues stored in the recording (``Recording.cues``), in time order.
    replayed : sequence of Cue
        Cues the replay decided (``Session.cues``), in time order.
    tol_s : float, default 1e-6
        Time tolerance in seconds.

    Returns
    -------
    list of str
        One line per difference, in time order.

    Examples
    --------
    >>> a = Cue(10.0, "cadence_low", "quick feet", "cadence_spm", 160.0)
    >>> verify_cues([a], [a])
    []
    >>> b = Cue(10.5, "cadence_low", "quick feet", "cadence_spm", 160.0)
    >>> verify_cues([a], [b])
    ['changed: [   10.0000 s] cadence_low "quick feet" -> [   10.5000 s] cadence_low "quick feet" (time +0.500000 s)']
    """
    rec = sorted(recorded, key=lambda c: c.t_s)
    rep = sorted(replayed, key=lambda c: c.t_s)
    used = [False] * len(rep)
    unmatched_rec: list[Cue] = []
    start = 0
    for c in rec:
        while start < len(rep) and rep[start].t_s < c.t_s - tol_s:
            start += 1
        hit = None
        j = start
        while j < len(rep) and rep[j].t_s <= c.t_s + tol_s:
            if not used[j] and rep[j].rule == c.rule and rep[j].phrase == c.phrase:
                hit = j
                break
            j += 1
        if hit is None:
            unmatched_rec.append(c)
        else:
            used[hit] = True
    left = [i for i, u in enumerate(used) if not u]
    out: list[tuple[float, str]] = []
    for c in unmatched_rec:
        near = [i for i in left if rep[i].rule == c.rule and abs(rep[i].t_s - c.t_s) <= _NEAR_S]
        if near:
            i = min(near, key=lambda k: abs(rep[k].t_s - c.t_s))
            left.remove(i)
            r = rep[i]
            what = []
            if abs(r.t_s - c.t_s) > tol_s:
                what.append(f"time {r.t_s - c.t_s:+.6f} s")
            if r.phrase != c.phrase:
                what.append(f"phrase {c.phrase!r} -> {r.phrase!r}")
            out.append((c.t_s, f"changed: {_fmt(c)} -> {_fmt(r)} ({', '.join(what)})"))
        else:
            out.append((c.t_s, f"missing in replay: {_fmt(c)}"))
    for i in left:
        out.append((rep[i].t_s, f"extra in replay: {_fmt(rep[i])}"))
    out.sort(key=lambda x: x[0])
    return [line for _, line in out]


def add_verify_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--verify`` to the ``replay`` parser."""
    parser.add_argument(
        "--verify",
        action="store_true",
        help="compare the replayed cues with the cues stored in the recording (rule, phrase, "
        f"sensor time within {TIME_TOL_S:g} s); exit {VERIFY_MISMATCH_EXIT} when they differ",
    )


def print_verification(
    path: str, recorded: Sequence[Cue], replayed: Sequence[Cue], out: TextIO
) -> int:
    """Print the outcome of :func:`verify_cues` and return the exit code (0 when identical)."""
    diffs = verify_cues(recorded, replayed)
    if not recorded:
        print(f"verify: {path} stores no cues (simulated or silent session)", file=out)
    if not diffs:
        print(f"verify: OK, {len(replayed)} cues identical to the {len(recorded)} stored", file=out)
        return 0
    print(
        f"verify: {len(diffs)} difference(s) between {len(recorded)} stored and "
        f"{len(replayed)} replayed cues:",
        file=out,
    )
    for line in diffs:
        print(f"  {line}", file=out)
    return VERIFY_MISMATCH_EXIT
