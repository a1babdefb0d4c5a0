"""Shape statistics of real recordings next to the simulator's, for the same placement and rate.

Run ``python benchmarks/sim_vs_real.py [--png DIR]``. Real data (found in ``shared/data`` beside
the repository or at ``$DOWNHILL_DATA``; read for validation only, nothing is copied):

* ``pyshoe-foot-running``: shoe IMU (foot placement), 200 Hz, jogging on tight curves, with
  Vicon-based reference contacts (about 20 ms after the impact the IMU sees);
* ``alcantara2022-sacral``: sacral accelerometer (pelvis), 500 Hz, low-passed at 20 Hz upstream,
  force-treadmill contacts.

Every statistic is computed from the resultant ``|a|`` (independent of the mounting) around
each impact, the same way for real and simulated strides: the impact is the maximum of ``|a|``
near the reference (real) or true (simulated) contact. The simulated courses match what is
known about the real trials (cadence, speed, curve radius, grade) and use the realistic
options of :func:`downhill_live.sim.gait.simulate` (``terminal_swing="merged"``), next to the
legacy default (``"quiet"``) for contrast.
"""

from __future__ import annotations

import argparse
import csv
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.signal import butter, lfilter, sosfilt, sosfiltfilt

from downhill_live.core.params import kernel_params
from downhill_live.sim.gait import Segment, simulate
from downhill_live.tools.accuracy import resample

PUSHOFF_G = 2.5  # the toe-off transient the scenarios use


def data_dir() -> Path:
    """Shared data folder: ``$DOWNHILL_DATA`` or ``<repo>/../shared/data``."""
    env = os.environ.get("DOWNHILL_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


# --------------------------------------------------------------------------------------------
# loading


def load_shoe() -> list[dict]:
    """Shoe trials: t_s, acc_g (N, 3), ref_s (reference contacts), masked spans."""
    root = data_dir() / "pyshoe-foot-running"
    refs: dict[str, list[float]] = {}
    with open(root / "contacts.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            refs.setdefault(row["trial"], []).append(float(row["ic_t_s"]))
    masks: dict[str, list[tuple[float, float]]] = {}
    with open(root / "masked.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            masks.setdefault(row["trial"], []).append((float(row["from_s"]), float(row["to_s"])))
    out = []
    for name in sorted(refs):
        d = np.loadtxt(root / f"{name}.csv", delimiter=",", skiprows=1)
        out.append(
            {
                "name": name,
                "t_s": d[:, 0],
                "acc_g": d[:, 1:4],
                "ref_s": np.array(refs[name]),
                "masked": masks.get(name, []),
            }
        )
    return out


def load_sacral() -> list[dict]:
    """Sacral trials: t_s, acc_g, ic_s, to_s, slope_deg, speed_mps."""
    root = data_dir() / "alcantara2022-sacral"
    contacts: dict[int, list[dict[str, str]]] = {}
    with open(root / "contacts.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            contacts.setdefault(int(row["trial"]), []).append(row)
    out = []
    for f in sorted(root.glob("trial*.csv")):
        rows = contacts[int(f.name[5:7])]
        d = np.loadtxt(f, delimiter=",", skiprows=1)
        out.append(
            {
                "name": f.stem,
                "t_s": d[:, 0],
                "acc_g": d[:, 1:4],
                "ic_s": np.array([float(r["ic_time_s"]) for r in rows]),
                "to_s": np.array(
                    [float(r["to_time_s"]) if r["to_time_s"] else np.nan for r in rows]
                ),
                "slope_deg": float(rows[0]["slope_deg"]),
                "speed_mps": float(rows[0]["speed_mps"]),
            }
        )
    return out


# --------------------------------------------------------------------------------------------
# statistics


def _window(t: np.ndarray, x: np.ndarray, t0: float, t1: float) -> np.ndarray:
    return x[(t >= t0) & (t < t1)]


def foot_stats(
    t: np.ndarray, acc: np.ndarray, contacts: np.ndarray, rate_hz: float, search: tuple
) -> dict[str, np.ndarray]:
    """Per-stride shape statistics of a foot signal around ``contacts`` (one foot's ICs).

    The impact time ``tp`` is the maximum of ``|a|`` in ``contacts + search``; then:

    * ``impact_g``: ``|a|(tp)``;
    * ``gap_min_g``: minimum of ``|a|`` over [tp - 60 ms, tp - 15 ms] (a quiet terminal
      swing reads ~1 g there, a deceleration that merges into the impact reads more);
    * ``pre_mean_g``: mean of ``|a|`` over [tp - 40 ms, tp - 10 ms], right before the impact;
    * ``swing_g``: terminal-swing peak, max ``|a|`` over [tp - 250 ms, tp - 40 ms];
    * ``hp_pre_post``: energy of the 20 Hz high-passed signal (all axes) in the 100 ms
      before tp - 10 ms over that in the 100 ms after;
    * ``stance_g``: median ``|a|`` over [tp + 60 ms, tp + 150 ms] (foot flat);
    * ``push_g``: push-off / early-swing peak, max ``|a|`` over [tp + 150 ms, tp + 0.55 T]
      (T the stride period), and ``push_ratio`` = push_g / impact_g;
    * ``push_to_next_s``: from that peak to the next impact;
    * ``stride_s``: time to the next impact;
    * ``hp25_peak_g``: what a causal 25 Hz high-pass (2nd-order Butterworth, all axes) keeps
      of the impact, max of its resultant over [tp - 30 ms, tp + 50 ms];
    * ``fwhm_ms``: the impact's width at half its height above the foot-flat level
      (``stance_g``), from the linearly interpolated crossings either side of ``tp``; a sample
      rate can only resolve an impact a few samples wide.
    """
    mag = np.linalg.norm(acc, axis=1)
    sos = butter(2, 20.0, "highpass", fs=rate_hz, output="sos")
    hp = np.sum(sosfiltfilt(sos, acc, axis=0) ** 2, axis=1)
    sos25 = butter(2, 25.0, "highpass", fs=rate_hz, output="sos")
    hp25 = np.linalg.norm(sosfilt(sos25, acc - acc[:20].mean(axis=0), axis=0), axis=1)
    tp = []
    for c in contacts:
        m = (t >= c + search[0]) & (t < c + search[1])
        if m.sum() < 3:
            continue
        tp.append(t[m][np.argmax(mag[m])])
    tp_a = np.array(tp)
    rows: dict[str, list[float]] = {
        k: []
        for k in (
            "impact_g",
            "gap_min_g",
            "pre_mean_g",
            "swing_g",
            "hp_pre_post",
            "stance_g",
            "push_g",
            "push_ratio",
            "push_to_next_s",
            "stride_s",
            "hp25_peak_g",
            "fwhm_ms",
        )
    }
    for i in range(1, tp_a.size - 1):
        p = tp_a[i]
        stride = tp_a[i + 1] - p
        if not (0.45 < stride < 1.1) or not (0.45 < p - tp_a[i - 1] < 1.1):
            continue  # a stop, a stutter step or a masked span
        imp = float(np.interp(p, t, mag))
        pre = _window(t, hp, p - 0.110, p - 0.010).sum()
        post = _window(t, hp, p - 0.010, p + 0.090).sum()
        push_w = (t >= p + 0.150) & (t < p + 0.55 * stride)
        push_i = np.flatnonzero(push_w)
        j = push_i[np.argmax(mag[push_i])]
        rows["impact_g"].append(imp)
        rows["gap_min_g"].append(float(_window(t, mag, p - 0.060, p - 0.015).min()))
        rows["pre_mean_g"].append(float(_window(t, mag, p - 0.040, p - 0.010).mean()))
        rows["swing_g"].append(float(_window(t, mag, p - 0.250, p - 0.040).max()))
        rows["hp_pre_post"].append(float(pre / post))
        rows["stance_g"].append(float(np.median(_window(t, mag, p + 0.060, p + 0.150))))
        rows["push_g"].append(float(mag[j]))
        rows["push_ratio"].append(float(mag[j] / imp))
        rows["push_to_next_s"].append(float(tp_a[i + 1] - t[j]))
        rows["stride_s"].append(float(stride))
        rows["hp25_peak_g"].append(float(_window(t, hp25, p - 0.030, p + 0.050).max()))
        rows["fwhm_ms"].append(1e3 * _fwhm_s(t, mag, p, rows["stance_g"][-1]))
    return {k: np.array(v) for k, v in rows.items()}


def _fwhm_s(t: np.ndarray, mag: np.ndarray, tp: float, base_g: float) -> float:
    """Width of the peak of ``mag`` at ``tp`` at half its height above ``base_g``."""
    i = int(np.searchsorted(t, tp))
    i = min(max(i, 0), t.size - 1)
    half = base_g + 0.5 * (mag[i] - base_g)
    lo = i
    while lo > 0 and mag[lo - 1] >= half:
        lo -= 1
    hi = i
    while hi < t.size - 1 and mag[hi + 1] >= half:
        hi += 1
    if lo == 0 or hi == t.size - 1:
        return float("nan")
    # interpolated crossings between the last sample below and the first above half
    t_lo = t[lo - 1] + (half - mag[lo - 1]) / (mag[lo] - mag[lo - 1]) * (t[lo] - t[lo - 1])
    t_hi = t[hi] + (mag[hi] - half) / (mag[hi] - mag[hi + 1]) * (t[hi + 1] - t[hi])
    return float(t_hi - t_lo)


def detection_signal(acc: np.ndarray, rate_hz: float) -> np.ndarray:
    """The limb detector's signal (``downhill_live.core``): the norm of the first-order
    high-pass of each axis, with the cutoff the detector uses at ``rate_hz``."""
    a = kernel_params(rate_hz, "foot").hp_a
    x = acc - acc[0]
    return np.linalg.norm(lfilter([a, -a], [1.0, -a], x, axis=0), axis=1)


def detection_stats(
    t: np.ndarray, acc: np.ndarray, contacts: np.ndarray, rate_hz: float, search: tuple
) -> dict[str, np.ndarray]:
    """Per-stride statistics of the detection signal ``d`` (:func:`detection_signal`) around
    the impact ``tp`` (the maximum of ``|a|`` in ``contacts + search``), which decide whether the
    detector takes the impact and not the swing for the strike:

    * ``d_impact_g``: max of ``d`` over [tp - 30 ms, tp + 50 ms];
    * ``d_swing_g``: max of ``d`` over [tp - 250 ms, tp - 40 ms] (terminal swing);
    * ``d_turn_g``: max of ``d`` over [tp - 260 ms, tp - 120 ms], where the swing's forward
      push turns into braking;
    * ``d_ratio``: d_impact_g / d_swing_g; ``impact_below_swing``: 1 where it is below 1 (the
      detector's dominance rule then loses the strike), printed as a share of strides;
    * ``impact_g``: ``|a|(tp)``.
    """
    d = detection_signal(acc, rate_hz)
    mag = np.linalg.norm(acc, axis=1)
    rows: dict[str, list[float]] = {
        k: []
        for k in (
            "d_impact_g",
            "d_swing_g",
            "d_turn_g",
            "d_ratio",
            "impact_below_swing",
            "impact_g",
        )
    }
    for c in contacts:
        m = (t >= c + search[0]) & (t < c + search[1])
        if m.sum() < 1 or t[m][0] < t[0] + 0.3:
            continue
        i = np.flatnonzero(m)[np.argmax(mag[m])]
        p = t[i]
        di = float(_window(t, d, p - 0.030, p + 0.050).max())
        ds = float(_window(t, d, p - 0.250, p - 0.040).max())
        rows["d_impact_g"].append(di)
        rows["d_swing_g"].append(ds)
        rows["d_turn_g"].append(float(_window(t, d, p - 0.260, p - 0.120).max()))
        rows["d_ratio"].append(di / ds)
        rows["impact_below_swing"].append(float(di < ds))
        rows["impact_g"].append(float(mag[i]))
    return {k: np.array(v) for k, v in rows.items()}


def _merge(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _decimate2(t: np.ndarray, acc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """200 -> 100 Hz by averaging sample pairs (the simulator's box anti-alias filter)."""
    n = t.size // 2 * 2
    return t[:n].reshape(-1, 2).mean(axis=1), acc[:n].reshape(-1, 2, 3).mean(axis=1)


def real_foot(rate_hz: float = 200.0) -> dict[str, np.ndarray]:
    parts = []
    for tri in load_shoe():
        ref = tri["ref_s"]
        keep = ref >= 2.0
        for a, b in tri["masked"]:
            keep &= ~((ref >= a - 0.1) & (ref <= b + 0.1))
        # reference contacts land ~20 ms after the impact: search the impact before them
        t, acc = tri["t_s"], tri["acc_g"]
        if rate_hz == 100.0:
            t, acc = _decimate2(t, acc)
        st = foot_stats(t, acc, ref[keep], rate_hz, (-0.080, 0.040))
        parts.append(st)
    return _merge(parts)


def _real_contacts(tri: dict) -> np.ndarray:
    ref = tri["ref_s"]
    keep = ref >= 2.0
    for a, b in tri["masked"]:
        keep &= ~((ref >= a - 0.1) & (ref <= b + 0.1))
    return ref[keep]


def real_foot_detection(rate_hz: float = 52.0) -> dict[str, np.ndarray]:
    """:func:`detection_stats` of the shoe trials decimated to ``rate_hz`` as
    ``benchmarks/validate.py`` does (``resample_poly``, an anti-alias FIR)."""
    parts = []
    for tri in load_shoe():
        t, acc = resample(tri["t_s"], tri["acc_g"], 200.0, rate_hz)
        parts.append(detection_stats(t, acc, _real_contacts(tri), rate_hz, (-0.080, 0.040)))
    return _merge(parts)


def sim_foot_detection(
    seed: int = 0, rate_hz: float = 52.0, decimate_from_hz: float | None = None, **opt
) -> dict[str, np.ndarray]:
    """:func:`detection_stats` of the simulated shoe course at ``rate_hz``: simulated at that
    rate (the simulator's own box anti-alias filter, as the scenarios are), or simulated at
    ``decimate_from_hz`` and decimated like the real data."""
    hz = decimate_from_hz or rate_hz
    res = simulate(shoe_course(), "foot", hz, seed, **opt)
    t, acc = res.t_s, res.acc_g
    if decimate_from_hz:
        t, acc = resample(t, acc, hz, rate_hz)
    own = res.strike_t_s[(res.strike_foot == 0) & (res.strike_t_s > 3.0)]
    return detection_stats(t, acc, own, rate_hz, (-0.030, 0.050))


def shoe_course(strike: str = "heel") -> list[Segment]:
    """What is known of the shoe trials: ~154 spm jogging at ~1.9 m/s (a zero-velocity-update
    integration of the trials' IMU gives 1.47 m strides) on circles of ~1.2 m radius in a
    3 x 3 m area, both directions, from a standing start."""
    v, r = 1.9, 1.2
    turn = np.degrees(v * 20.0 / r)
    return [
        Segment(2.0, 0.0, "stand"),
        Segment(20.0, 0.0, "run", 154.0, speed_mps=v, turn_deg=float(turn), strike=strike),
        Segment(20.0, 0.0, "run", 154.0, speed_mps=v, turn_deg=-float(turn), strike=strike),
    ]


def sim_foot(seed: int = 0, rate_hz: float = 200.0, **opt) -> dict[str, np.ndarray]:
    strike = opt.pop("strike", "heel")
    res = simulate(shoe_course(strike), "foot", rate_hz, seed, **opt)
    own = res.strike_t_s[(res.strike_foot == 0) & (res.strike_t_s > 3.0)]
    return foot_stats(res.t_s, res.acc_g, own, rate_hz, (-0.030, 0.050))


def sacral_stats(t: np.ndarray, acc: np.ndarray, ic: np.ndarray) -> dict[str, np.ndarray]:
    """Per-step pelvis statistics: peak |a| in [IC, IC + 80 ms], flight minimum before IC,
    step interval."""
    mag = np.linalg.norm(acc, axis=1)
    pk, fl, st = [], [], []
    for i in range(1, ic.size):
        pk.append(float(_window(t, mag, ic[i], ic[i] + 0.080).max()))
        fl.append(float(_window(t, mag, ic[i] - 0.050, ic[i]).min()))
        st.append(float(ic[i] - ic[i - 1]))
    return {"peak_g": np.array(pk), "flight_min_g": np.array(fl), "step_s": np.array(st)}


def sim_sacral() -> dict[str, np.ndarray]:
    """The treadmill trials' conditions (~190 spm, 2.5-4.2 m/s, 0 and +-5 deg), low-passed at
    20 Hz (4th-order, zero phase) as upstream did."""
    sos = butter(4, 20.0, "lowpass", fs=500.0, output="sos")
    parts = []
    for seed, (grade, v) in enumerate(
        ((0.0, 3.33), (8.7, 3.33), (-8.7, 3.33), (0.0, 2.5), (0.0, 4.17))
    ):
        course = [Segment(2.0, 0.0, "stand"), Segment(12.0, grade, "run", 190.0, speed_mps=v)]
        res = simulate(course, "pelvis", 500.0, seed)
        acc = sosfiltfilt(sos, res.acc_g, axis=0)
        ic = res.strike_t_s[res.strike_t_s > 4.0]
        parts.append(sacral_stats(res.t_s, acc, ic))
    return _merge(parts)


# --------------------------------------------------------------------------------------------
# report


def _fmt(x: np.ndarray) -> str:
    if x.size == 0:
        return "-"
    q = np.percentile(x, [25, 50, 75])
    return f"{q[1]:6.2f} [{q[0]:5.2f}..{q[2]:5.2f}]"


def print_table(title: str, cols: dict[str, dict[str, np.ndarray]]) -> None:
    print(
        f"\n{title}  (median [IQR] over strides; n = "
        + ", ".join(f"{k} {len(next(iter(v.values())))}" for k, v in cols.items())
        + ")"
    )
    keys = list(next(iter(cols.values())))
    print(f"{'':16s}" + "".join(f"{k:>26s}" for k in cols))
    for key in keys:
        print(f"{key:16s}" + "".join(f"{_fmt(v[key]):>26s}" for v in cols.values()))


def _plot(path: Path, signals: list[tuple[str, Callable[[], tuple]]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(signals), 1, figsize=(11, 2.6 * len(signals)), sharex=True)
    for ax, (title, get) in zip(np.atleast_1d(axes), signals, strict=True):
        t, mag, marks = get()
        for c in marks:
            m = (t >= c - 0.45) & (t < c + 0.45)
            ax.plot(t[m] - c, mag[m], lw=0.9)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("|a| (g)")
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[-1].set_xlabel("time from contact (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--png", type=Path, help="also write aligned-stride figures to this folder")
    args = ap.parse_args(argv)
    try:
        real = real_foot()
    except FileNotFoundError as exc:
        print(f"real data not found ({exc}); set DOWNHILL_DATA")
        return 1
    cols = {
        "real shoe 200 Hz": real,
        "sim merged heel": _merge(
            [sim_foot(s, terminal_swing="merged", pushoff_g=PUSHOFF_G) for s in range(3)]
        ),
        "sim merged forefoot": _merge(
            [
                sim_foot(s, terminal_swing="merged", pushoff_g=PUSHOFF_G, strike="forefoot")
                for s in range(3)
            ]
        ),
        "sim legacy (quiet)": _merge([sim_foot(s) for s in range(3)]),
    }
    print_table("FOOT (instep/shoe), 200 Hz, |a| around each impact", cols)
    merged = {"terminal_swing": "merged", "pushoff_g": PUSHOFF_G}
    cols100 = {
        "real shoe -> 100 Hz": real_foot(100.0),
        "sim merged heel": _merge([sim_foot(s, 100.0, **merged) for s in range(3)]),
        "sim legacy (quiet)": _merge([sim_foot(s, 100.0) for s in range(3)]),
    }
    print_table("FOOT at 100 Hz (real: pairs of samples averaged)", cols100)
    cols52 = {
        "real shoe -> 52 Hz": real_foot_detection(52.0),
        "sim merged 52 Hz": _merge([sim_foot_detection(s, 52.0, **merged) for s in range(3)]),
        "sim merged 200->52": _merge(
            [sim_foot_detection(s, 52.0, 200.0, **merged) for s in range(3)]
        ),
        "sim legacy 52 Hz": _merge([sim_foot_detection(s, 52.0) for s in range(3)]),
    }
    below = {k: v.pop("impact_below_swing") for k, v in cols52.items()}
    print_table(
        "FOOT at 52 Hz, the detector's signal (real: decimated as validate.py does; sim: "
        "simulated at 52 Hz, or at 200 Hz and decimated the same way)",
        cols52,
    )
    print(
        f"{'impact < swing':16s}"
        + "".join(f"{f'{100.0 * v.mean():.1f} % of strides':>26s}" for v in below.values())
    )

    sac = _merge([sacral_stats(tr["t_s"], tr["acc_g"], tr["ic_s"]) for tr in load_sacral()])
    print_table(
        "PELVIS (sacrum), 500 Hz, steps; the simulator low-passed at 20 Hz like the real data",
        {"real sacral (20 Hz LP)": sac, "sim pelvis (20 Hz LP)": sim_sacral()},
    )

    if args.png:
        args.png.mkdir(parents=True, exist_ok=True)
        shoe = load_shoe()[0]

        def real_sig() -> tuple:
            return shoe["t_s"], np.linalg.norm(shoe["acc_g"], axis=1), shoe["ref_s"][4:8] - 0.02

        def sim_sig(**opt) -> Callable[[], tuple]:
            def get() -> tuple:
                strike = opt.pop("strike", "heel")
                r = simulate(shoe_course(strike), "foot", 200.0, 0, **opt)
                own = r.strike_t_s[r.strike_foot == 0]
                return r.t_s, np.linalg.norm(r.acc_g, axis=1), own[6:10]

            return get

        _plot(
            args.png / "foot_aligned.png",
            [
                ("real shoe (contacts shifted -20 ms)", real_sig),
                ("sim heel, terminal_swing='merged'", sim_sig(terminal_swing="merged")),
                (
                    "sim forefoot, terminal_swing='merged'",
                    sim_sig(terminal_swing="merged", strike="forefoot"),
                ),
                ("sim legacy default ('quiet')", sim_sig()),
            ],
        )
        print(f"\nfigures written to {args.png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
