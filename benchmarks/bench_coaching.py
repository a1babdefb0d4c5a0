"""Coaching benchmark: do the cue rules coach the way the evidence says, on simulated runners?

Each runner is a course of simulator segments (downhill_live.sim.gait.Segment) labelled with
the ground truth: "ok" (within limits) or "err" (overstriding: low cadence, high impact). The
simulated accelerometer goes through the real gait core (steps, grade, descent state) and the
cue engine of each profile. Runners:

- good form (3 x 60 min with different seeds, descents of -4 to -12 %, cadence 168-173 spm, impacts up with slope but
  within the band);
- persistent overstrider (three 180-s descents overstriding all the way: 150 s+ episodes);
- intermittent lapses (long descents with 12-30 s lapses between stretches of good form);
- corrector (closed loop: overstrides until the first cue, then corrects within 3 s and holds);
- starts on a descent (no flat start: without history no baseline; with the history of a
  previous session, the baseline is there on the first step).

Figures per profile (goals; exit status 1 when one is missed):

- share of error episodes of >= 10 s that got a cue within 10 s (>= 90 %). An episode is a
  stretch labelled "err" on a descent the core has recognised (the gate of the descent rules):
  its onset is the later of the true onset and the core's descent recognition, whose latency is
  printed separately (it belongs to the core, not to the rules);
- corrective cues (cues + reminders) per hour for the good-form runner (<= 2);
- reminders during a 150-s episode, the overstrider's (>= 2 on each);
- praise without a correction: praise said while the truth is not "ok on the slope after an
  error" (0).

Usage: python benchmarks/bench_coaching.py [PROFILE.yaml ...] [--placement foot] [--seed N]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from downhill_live.config.cue_profile import CueProfile, load_cue_profile
from downhill_live.core import GaitTracker
from downhill_live.cues import CueEngine, Prior
from downhill_live.history import History
from downhill_live.sim.gait import Segment, simulate
from downhill_live.types import Cue, Step, settled

FLAT_SPM = 170.0
RATE_HZ = {"foot": 200.0, "shank": 500.0, "pelvis": 100.0, "chest": 100.0}
CUE_WITHIN_S = 10.0
MIN_EPISODE_S = 10.0
GOOD_HOURS = 3


@dataclass(frozen=True)
class Part:
    seg: Segment
    label: str  # "ok" | "err"


def flat(d: float, cad: float = FLAT_SPM) -> Part:
    return Part(Segment(d, 0.0, "run", cad), "ok")


def down(d: float, grade: float, cad: float, impact: float, label: str) -> Part:
    return Part(Segment(d, grade, "run", cad, None, impact, None, speed_mps=3.2), label)


def overstride(d: float, grade: float) -> list[Part]:
    """Into overstriding within 2 s, then holding it."""
    return [
        Part(Segment(2.0, grade, "run", 170.0, 154.0, 1.1, 1.6, speed_mps=3.2), "err"),
        down(d - 2.0, grade, 154.0, 1.6, "err"),
    ]


def good_form() -> list[Part]:
    parts: list[Part] = [flat(120)]
    grades = [-4, -6, -8, -12, -6, -10, -8, -5, -12, -7, -9, -6]
    for i, g in enumerate(grades):
        cad = 168.0 + (i % 3) * 2.5  # keeps at least the flat cadence within 3 %
        impact = 1.05 + 0.01 * abs(g)  # impacts grow with slope (Gottschall & Kram 2005)
        parts += [down(140, g, cad, impact, "ok"), flat(150, 169.0 + (i % 2))]
    return parts


def persistent() -> list[Part]:
    parts: list[Part] = [flat(90)]
    for g in (-8, -10, -12):
        parts += [*overstride(180, g), flat(90)]
    return parts


def lapses() -> list[Part]:
    parts: list[Part] = [flat(90)]
    for k, g in enumerate((-7, -9, -6)):
        parts.append(down(40, g, 171.0, 1.1, "ok"))
        for j, lapse_s in enumerate((15, 30, 12)):
            parts += overstride(lapse_s + 2 * ((j + k) % 2), g)
            parts.append(down(45, g, 171.0, 1.1, "ok"))
        parts.append(flat(90))
    return parts


def corrector(cue_times: list[float | None] | None) -> list[Part]:
    """Overstrides on each descent until the first cue there (+3 s to react), then corrects
    within 3 s. ``cue_times`` None: never corrects (first pass, to find the cues)."""
    parts: list[Part] = [flat(90)]
    t = 90.0
    for i, g in enumerate((-8, -10, -7)):
        length = 150.0
        tc = None if cue_times is None else cue_times[i]
        if tc is None or not t < tc < t + length - 20:
            parts += overstride(length, g)
        else:
            err_s = tc + 3.0 - t
            parts += overstride(err_s, g)
            parts.append(Part(Segment(3.0, g, "run", 154.0, 172.0, 1.6, 1.05, speed_mps=3.2), "ok"))
            parts.append(down(length - err_s - 3.0, g, 172.0, 1.05, "ok"))
        parts.append(flat(90))
        t += length + 90.0
    return parts


def starts_down() -> list[Part]:
    return [
        down(60, -8, 171.0, 1.1, "ok"),
        *overstride(45, -8),
        flat(120),
        down(50, -9, 171.0, 1.1, "ok"),
        *overstride(40, -9),
        flat(60),
    ]


# ------------------------------------------------------------------------- truth and steps
@dataclass
class Run:
    parts: list[Part]
    steps: list[Step]
    starts_s: np.ndarray  # segment start times

    def part_at(self, t: float) -> Part:
        i = int(np.searchsorted(self.starts_s, t, side="right")) - 1
        return self.parts[max(0, min(i, len(self.parts) - 1))]

    def episodes(self) -> list[tuple[float, float]]:
        """True "err" stretches on descents: (start, end)."""
        out: list[tuple[float, float]] = []
        for p, t0 in zip(self.parts, self.starts_s, strict=True):
            t1 = t0 + p.seg.duration_s
            if p.label == "err" and p.seg.grade_pct < 0:
                if out and abs(out[-1][1] - t0) < 1e-6:
                    out[-1] = (out[-1][0], t1)
                else:
                    out.append((t0, t1))
        return out


def simulate_run(parts: list[Part], profile: CueProfile, placement: str, seed: int) -> Run:
    segs = [p.seg for p in parts]
    rate = RATE_HZ[placement]
    res = simulate(segs, placement, rate_hz=rate, seed=seed)
    d = profile.descent
    tr = GaitTracker(
        rate,
        placement,
        descent_threshold_pct=d.threshold_pct,
        descent_exit_pct=d.exit_pct,
        descent_min_s=d.min_s,
    )
    steps = settled(tr.update_many(res.t_s, res.acc_g, res.pressure_pa))
    starts = np.concatenate([[0.0], np.cumsum([s.duration_s for s in segs])[:-1]])
    return Run(parts, steps, starts)


def run_engine(profile: CueProfile, steps: list[Step], prior: Prior | None = None) -> CueEngine:
    eng = CueEngine(profile, prior)
    for s in steps:
        eng.update(s)
    eng.finish()
    return eng


def corrective(cues: list[Cue]) -> list[Cue]:
    return [c for c in cues if not c.rule.endswith(".praise") and not c.rule.startswith("descent.")]


@dataclass
class Figures:
    episodes: int = 0
    cued: int = 0
    latencies_s: list[float] | None = None
    recognition_s: list[float] | None = None
    good_cues_per_h: float = math.nan
    reminders_150: list[int] | None = None
    praise_bad: int = 0
    praise_good: int = 0
    corrector_praised: str = ""
    start_down: str = ""

    def __post_init__(self) -> None:
        self.latencies_s = []
        self.recognition_s = []
        self.reminders_150 = []


def score_episodes(run: Run, cues: list[Cue], fig: Figures) -> None:
    corr = corrective(cues)
    for t0, t1 in run.episodes():
        on = [s.t_s for s in run.steps if t0 <= s.t_s <= t1 and s.on_descent]
        if not on:
            continue
        onset = on[0]
        assert fig.recognition_s is not None and fig.latencies_s is not None
        fig.recognition_s.append(onset - t0)
        if t1 - onset < MIN_EPISODE_S:
            continue
        fig.episodes += 1
        first = [c.t_s for c in corr if onset - 1e-9 <= c.t_s <= t1]
        if first:
            fig.latencies_s.append(first[0] - onset)
        if first and first[0] - onset <= CUE_WITHIN_S:
            fig.cued += 1


def score_praise(run: Run, cues: list[Cue], fig: Figures) -> None:
    for c in cues:
        if not c.rule.endswith(".praise"):
            continue
        p = run.part_at(c.t_s)
        before = [
            q
            for q, t0 in zip(run.parts, run.starts_s, strict=True)
            if t0 < c.t_s and q.label == "err"
        ]
        if p.label == "ok" and p.seg.grade_pct <= -5 and before:
            fig.praise_good += 1
        else:
            fig.praise_bad += 1


def bench(profile: CueProfile, placement: str, seed: int, cache: dict[str, Run]) -> Figures:
    fig = Figures()

    def get(name: str, parts: list[Part], s: int) -> Run:
        key = f"{name}/{s}"
        if key not in cache:
            cache[key] = simulate_run(parts, profile, placement, s)
        return cache[key]

    n_good = 0
    hours = 0.0
    for k in range(GOOD_HOURS):  # three different hours of good form (seeds)
        good = get("good", good_form(), seed + 100 * k)
        eng = run_engine(profile, good.steps)
        hours += sum(p.seg.duration_s for p in good.parts) / 3600.0
        n_good += len(corrective(eng.cues_))
        score_praise(good, eng.cues_, fig)
    fig.good_cues_per_h = n_good / hours

    per = get("persistent", persistent(), seed + 1)
    eng = run_engine(profile, per.steps)
    score_episodes(per, eng.cues_, fig)
    score_praise(per, eng.cues_, fig)
    assert fig.reminders_150 is not None
    for t0, _t1 in per.episodes():
        rem = [c for c in eng.cues_ if c.rule.endswith(".reminder") and t0 <= c.t_s <= t0 + 150]
        fig.reminders_150.append(len(rem))

    lap = get("lapses", lapses(), seed + 2)
    eng = run_engine(profile, lap.steps)
    score_episodes(lap, eng.cues_, fig)
    score_praise(lap, eng.cues_, fig)

    # corrector: closed loop (first pass finds the first cue per descent, second pass reacts)
    first = get("corrector0", corrector(None), seed + 3)
    eng = run_engine(profile, first.steps)
    times: list[float | None] = []
    for t0, t1 in first.episodes():
        c = [x.t_s for x in corrective(eng.cues_) if t0 <= x.t_s <= t1]
        times.append(c[0] if c else None)
    cor = simulate_run(corrector(times), profile, placement, seed + 3)
    eng = run_engine(profile, cor.steps)
    score_episodes(cor, eng.cues_, fig)
    score_praise(cor, eng.cues_, fig)
    n_praised = len({c.t_s for c in eng.cues_ if c.rule.endswith(".praise")})
    fig.corrector_praised = (
        f"{n_praised} praise(s) (cadence and impact rules) over {len(times)} corrected descents"
    )

    # starts on a descent: alone, then with the baseline of a previous session (the history)
    sd = get("starts_down", starts_down(), seed + 4)
    eng_none = run_engine(profile, sd.steps)
    prev = run_engine(profile, per.steps)  # an earlier session of this runner, flat start
    with tempfile.TemporaryDirectory() as d, History(Path(d) / "history.sqlite3") as h:
        h.add_session("runner", prev, profile, source="bench", duration_s=per.steps[-1].t_s)
        prior = h.prior("runner", profile)  # the real history: SQLite, median baselines
    eng = run_engine(profile, sd.steps, prior)
    score_episodes(sd, eng.cues_, fig)
    score_praise(sd, eng.cues_, fig)
    ep = sd.episodes()[0]
    first_none = [c.t_s for c in corrective(eng_none.cues_) if ep[0] <= c.t_s <= ep[1]]
    first_hist = [c.t_s for c in corrective(eng.cues_) if ep[0] <= c.t_s <= ep[1]]
    fig.start_down = (
        f"first episode cued {'after %.1f s' % (first_hist[0] - ep[0]) if first_hist else 'never'}"
        f" with history, {'after %.1f s' % (first_none[0] - ep[0]) if first_none else 'never'}"
        " without"
    )
    return fig


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("profiles", nargs="*", help="cue profiles (default: the bundled profile)")
    ap.add_argument("--placement", default="foot", choices=sorted(RATE_HZ))
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args(argv)
    profiles = [load_cue_profile(p) for p in args.profiles] or [load_cue_profile()]
    missed = False
    cache: dict[str, Run] = {}
    for prof in profiles:
        cache.clear()  # the core's descent settings come from the profile
        fig = bench(prof, args.placement, args.seed, cache)
        assert fig.latencies_s is not None and fig.recognition_s is not None
        assert fig.reminders_150 is not None
        share = 100.0 * fig.cued / fig.episodes if fig.episodes else math.nan
        lat = np.array(fig.latencies_s)
        rec = np.array(fig.recognition_s)
        goals = [
            (
                f"error episodes >= {MIN_EPISODE_S:g} s cued within {CUE_WITHIN_S:g} s",
                f"{share:.0f} % ({fig.cued}/{fig.episodes})",
                ">= 90 %",
                share >= 90.0,
            ),
            (
                "corrective cues per hour, good form",
                f"{fig.good_cues_per_h:.1f}",
                "<= 2",
                fig.good_cues_per_h <= 2.0,
            ),
            (
                "reminders during a 150-s episode",
                ", ".join(map(str, fig.reminders_150)),
                ">= 2 each",
                bool(fig.reminders_150) and min(fig.reminders_150) >= 2,
            ),
            ("praise without a correction", f"{fig.praise_bad}", "0", fig.praise_bad == 0),
        ]
        print(f"profile {prof.path} (placement {args.placement}, seed {args.seed})")
        for name, value, goal, ok in goals:
            print(f"  {name:<46} {value:>14}   goal {goal:<10} {'ok' if ok else 'MISSED'}")
            missed |= not ok
        if len(lat):
            print(
                f"  cue latency from recognised onset             median {np.median(lat):.1f} s,"
                f" max {lat.max():.1f} s"
            )
        if len(rec):
            print(
                f"  descent recognition after true onset (core)   median {np.median(rec):.1f} s,"
                f" max {rec.max():.1f} s"
            )
        print(f"  praise after a real correction                {fig.praise_good}")
        print(f"  corrector                                     {fig.corrector_praised}")
        print(f"  starts on a descent                           {fig.start_down}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
