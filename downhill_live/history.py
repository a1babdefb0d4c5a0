"""The runner history: one SQLite file of sessions and descents, across runs.

It gives each new session a :class:`~downhill_live.config.cue_profile.Prior` (baselines per grade
band learned across sessions, and the feedback fading level) and stores what the session did.
The file lives at the platform's data location (:func:`default_path`, via ``platformdirs``:
``~/.local/share/downhill-live/history.sqlite3`` on Linux) unless ``--history PATH`` names
another. The schema is versioned with SQLite's ``user_version`` and migrated forward on open;
a file from a newer version is refused, never changed.

Schema (version 1)
------------------
``sessions``: one row per session: ``id``, ``runner``, ``started_utc`` (ISO 8601), ``source``
(recording path or ``live``), ``duration_s``, ``flat_cadence_spm``, ``flat_peak_g`` (this
session's flat baseline, NULL if not learned), ``descent_s``, ``in_band_s`` (descent time with no
rule in persistent error), ``cues`` (corrective cues and reminders), ``praise``, ``fade_level``
(the level the session ran at), ``profile_path``, ``profile_yaml`` (the profile text).

``descents``: one row per descent: ``session_id``, ``idx``, ``start_t_s``, ``duration_s``,
``grade_pct`` (median), ``band`` (:data:`BANDS`), ``cadence_spm``, ``peak_g`` (medians),
``cadence_vs_flat_pct``, ``impact_vs_flat_pct`` (against the session's flat baseline, NULL
when unknown), ``in_band_share``, ``cues``.

Replay and tune never write here unless asked (``--save-history``); a recording stores the
prior it was coached with (header ``live.history``), so they reuse exactly that.
"""

from __future__ import annotations

import math
import sqlite3
import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from downhill_live.config.cue_profile import CueProfile, Prior
from downhill_live.errors import DownhillError

SCHEMA_VERSION = 1
APP_NAME = "downhill-live"
#: how many recent sessions a stored baseline is the median of
BASELINE_SESSIONS = 5

#: grade bands (name, upper grade % inclusive, lower grade % exclusive), flat first
BANDS: tuple[tuple[str, float, float], ...] = (
    ("flat", 3.0, -3.0),
    ("-3..-6", -3.0, -6.0),
    ("-6..-10", -6.0, -10.0),
    ("<-10", -10.0, -math.inf),
)

_MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1
    """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        runner TEXT NOT NULL,
        started_utc TEXT NOT NULL,
        source TEXT NOT NULL,
        duration_s REAL NOT NULL,
        flat_cadence_spm REAL,
        flat_peak_g REAL,
        descent_s REAL NOT NULL,
        in_band_s REAL NOT NULL,
        cues INTEGER NOT NULL,
        praise INTEGER NOT NULL,
        fade_level INTEGER NOT NULL,
        profile_path TEXT,
        profile_yaml TEXT
    );
    CREATE INDEX sessions_runner ON sessions (runner, started_utc);
    CREATE TABLE descents (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        start_t_s REAL NOT NULL,
        duration_s REAL NOT NULL,
        grade_pct REAL,
        band TEXT NOT NULL,
        cadence_spm REAL,
        peak_g REAL,
        cadence_vs_flat_pct REAL,
        impact_vs_flat_pct REAL,
        in_band_share REAL,
        cues INTEGER NOT NULL
    );
    CREATE INDEX descents_session ON descents (session_id);
    """,
)


class HistoryError(DownhillError):
    """The history file cannot be used (names the file)."""

    exit_code = 2

    def __init__(self, path: str | Path, message: str) -> None:
        super().__init__(f"{path}: {message}")


def default_path() -> Path:
    """The history file at the platform's data location."""
    import platformdirs  # lazy: only when no --history PATH is given


    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "history.sqlite3"


def band_of(grade_pct: float) -> str:
    """The grade band of a grade.

    >>> [band_of(g) for g in (0.5, -4.0, -6.0, -9.9, -10.0, -15.0, 5.0)]
    ['flat', '-3..-6', '-6..-10', '-6..-10', '<-10', '<-10', 'up']
    """
    if math.isnan(grade_pct):
        return "unknown"
    for name, hi, lo in BANDS:
        if lo < grade_pct <= hi:
            return name
    return "up"


def _num(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) else float(x)


def _pct(value: float, ref: float | None) -> float | None:
    if ref is None or not ref or math.isnan(value):
        return None
    return 100.0 * (value / ref - 1.0)


@dataclass(frozen=True)
class SessionRow:
    id: int
    runner: str
    started_utc: str
    source: str
    duration_s: float
    flat_cadence_spm: float | None
    flat_peak_g: float | None
    descent_s: float
    in_band_s: float
    cues: int
    praise: int
    fade_level: int

    @property
    def in_band_share(self) -> float | None:
        return self.in_band_s / self.descent_s if self.descent_s > 0 else None


class History:
    """An open history file. Use as a context manager, or call :meth:`close`.

    >>> import tempfile, os
    >>> from downhill_live.config.cue_profile import load_cue_profile
    >>> with tempfile.TemporaryDirectory() as d, History(os.path.join(d, "h.sqlite3")) as h:
    ...     h.prior("ann", load_cue_profile())
    Prior(baselines={}, fade_level=0)
    """

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise HistoryError(self.path, "no such history file")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(self.path), timeout=10.0)
        except (OSError, sqlite3.Error) as exc:
            raise HistoryError(self.path, f"cannot open: {exc}") from None
        try:
            self.db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise HistoryError(self.path, f"not a usable history database ({exc})") from None

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        v = self.version
        if v > SCHEMA_VERSION:
            self.db.close()
            raise HistoryError(
                self.path, f"schema version {v} is newer than this app's ({SCHEMA_VERSION})"
            )
        for target in range(v + 1, SCHEMA_VERSION + 1):
            with self.db:  # one transaction per step: a failed migration leaves the old file
                self.db.executescript(
                    "BEGIN;" + _MIGRATIONS[target - 1] + f"PRAGMA user_version = {target};"
                )

    # ------------------------------------------------------------------ reading
    def sessions(self, runner: str | None = None) -> list[SessionRow]:
        sql = (
            "SELECT id, runner, started_utc, source, duration_s, flat_cadence_spm, flat_peak_g,"
            " descent_s, in_band_s, cues, praise, fade_level FROM sessions"
        )
        args: tuple[Any, ...] = ()
        if runner is not None:
            sql += " WHERE runner = ?"
            args = (runner,)
        rows = self.db.execute(sql + " ORDER BY started_utc, id", args).fetchall()
        return [SessionRow(*r) for r in rows]

    def runners(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT runner FROM sessions ORDER BY 1")]

    def descents(self, session_id: int) -> list[dict[str, Any]]:
        cur = self.db.execute(
            "SELECT idx, start_t_s, duration_s, grade_pct, band, cadence_spm, peak_g,"
            " cadence_vs_flat_pct, impact_vs_flat_pct, in_band_share, cues FROM descents"
            " WHERE session_id = ? ORDER BY idx",
            (session_id,),
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def prior(self, runner: str, profile: CueProfile) -> Prior:
        """What a new session of ``runner`` starts from (see :class:`Prior`): the median flat
        baseline and per-band descent medians over the last :data:`BASELINE_SESSIONS`
        sessions (once ``history.min_sessions`` are stored), and the fade level: the number of
        most recent sessions in a row, with descents, whose descent time was at least
        ``fade.hold_share`` in band (at most ``fade.max_level``)."""
        rows = self.sessions(runner)
        baselines: dict[str, dict[str, float]] = {}
        if profile.history.baselines and len(rows) >= profile.history.min_sessions:
            recent = rows[-BASELINE_SESSIONS:]
            flat: dict[str, float] = {}
            for metric, attr in (("cadence_spm", "flat_cadence_spm"), ("peak_g", "flat_peak_g")):
                vals = [getattr(r, attr) for r in recent if getattr(r, attr) is not None]
                if vals:
                    flat[metric] = round(float(statistics.median(vals)), 4)
            if flat:
                baselines["flat"] = flat
            ids = [r.id for r in recent]
            marks = ",".join("?" * len(ids))
            per_band: dict[str, dict[str, list[float]]] = {}
            for band, cad, peak in self.db.execute(
                f"SELECT band, cadence_spm, peak_g FROM descents WHERE session_id IN ({marks})",
                ids,
            ).fetchall():
                by_metric = per_band.setdefault(band, {"cadence_spm": [], "peak_g": []})
                for metric, v in (("cadence_spm", cad), ("peak_g", peak)):
                    if v is not None:
                        by_metric[metric].append(float(v))
            for band, by_metric in sorted(per_band.items()):
                med = {m: round(float(statistics.median(v)), 4) for m, v in by_metric.items() if v}
                if med:
                    baselines[band] = med
        level = 0
        if profile.fade.enabled:
            for r in reversed([r for r in rows if r.descent_s > 0]):
                share = r.in_band_share
                if share is None or share < profile.fade.hold_share:
                    break
                level += 1
                if level >= profile.fade.max_level:
                    break
        return Prior(baselines=baselines, fade_level=level)

    # ------------------------------------------------------------------ writing
    def add_session(
        self,
        runner: str,
        engine: Any,
        profile: CueProfile,
        *,
        source: str,
        duration_s: float,
        started_utc: str | None = None,
        profile_yaml: str | None = None,
    ) -> int:
        """Store a finished session (a :class:`~downhill_live.cues.CueEngine` after
        ``finish()``) and its descents; returns the session id."""
        started = started_utc or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        learned = engine.baseline.learned
        flat_cad = learned.get("cadence_spm")
        flat_peak = learned.get("peak_g")
        descents = list(engine.descents_)
        cues = [c for c in engine.cues_ if not c.rule.startswith("descent.")]
        n_praise = sum(1 for c in cues if c.rule.endswith(".praise"))
        with self.db:
            cur = self.db.execute(
                "INSERT INTO sessions (runner, started_utc, source, duration_s, flat_cadence_spm,"
                " flat_peak_g, descent_s, in_band_s, cues, praise, fade_level, profile_path,"
                " profile_yaml) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    runner,
                    started,
                    source,
                    float(duration_s),
                    _num(flat_cad),
                    _num(flat_peak),
                    float(sum(d.time_s for d in descents)),
                    float(sum(d.in_band_s for d in descents)),
                    len(cues) - n_praise,
                    n_praise,
                    int(engine.fade_level),
                    profile.path,
                    profile_yaml,
                ),
            )
            sid = int(cur.lastrowid or 0)
            for i, d in enumerate(descents):
                self.db.execute(
                    "INSERT INTO descents (session_id, idx, start_t_s, duration_s, grade_pct,"
                    " band, cadence_spm, peak_g, cadence_vs_flat_pct, impact_vs_flat_pct,"
                    " in_band_share, cues) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        sid,
                        i,
                        d.start_t_s,
                        d.duration_s,
                        _num(d.grade_pct),
                        band_of(d.grade_pct),
                        _num(d.cadence_spm),
                        _num(d.peak_g),
                        _pct(d.cadence_spm, flat_cad),
                        _pct(d.peak_g, flat_peak),
                        _num(d.in_band_share),
                        d.cues,
                    ),
                )
        return sid

    def progress(self, runner: str) -> Iterator[dict[str, Any]]:
        """Per session and grade band: descent time, median cadence and impact against flat,
        share of descent time in band (time-weighted)."""
        for s in self.sessions(runner):
            by_band: dict[str, list[dict[str, Any]]] = {}
            for d in self.descents(s.id):
                by_band.setdefault(d["band"], []).append(d)
            for band, ds in sorted(by_band.items(), key=lambda kv: _band_order(kv[0])):
                time_s = sum(d["duration_s"] for d in ds)
                shares = [
                    (d["in_band_share"], d["duration_s"])
                    for d in ds
                    if d["in_band_share"] is not None
                ]
                yield {
                    "session": s.id,
                    "started_utc": s.started_utc,
                    "band": band,
                    "descents": len(ds),
                    "time_s": time_s,
                    "cadence_vs_flat_pct": _median_or_none([d["cadence_vs_flat_pct"] for d in ds]),
                    "impact_vs_flat_pct": _median_or_none([d["impact_vs_flat_pct"] for d in ds]),
                    "in_band_pct": (
                        100.0 * sum(a * w for a, w in shares) / sum(w for _, w in shares)
                        if shares and sum(w for _, w in shares) > 0
                        else None
                    ),
                    "cues": sum(d["cues"] for d in ds),
                    "fade_level": s.fade_level,
                }


def _band_order(name: str) -> int:
    names = [b[0] for b in BANDS]
    return names.index(name) if name in names else len(names)


def _median_or_none(xs: Sequence[float | None]) -> float | None:
    v = [x for x in xs if x is not None]
    return float(statistics.median(v)) if v else None


def prior_to_json(prior: Prior) -> dict[str, Any]:
    """The snapshot a recording stores (header ``live.history``)."""
    return {"baselines": prior.baselines, "fade_level": prior.fade_level}


def prior_from_json(doc: Any, where: str) -> Prior:
    """Read a stored snapshot back; a malformed one is a :class:`HistoryError`."""
    if not isinstance(doc, dict):
        raise HistoryError(where, "history snapshot must be a mapping")
    level = doc.get("fade_level", 0)
    base = doc.get("baselines", {})
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 10:
        raise HistoryError(where, f"history snapshot: bad fade_level {level!r}")
    if not isinstance(base, dict):
        raise HistoryError(where, "history snapshot: baselines must be a mapping")
    out: dict[str, dict[str, float]] = {}
    for band, metrics in base.items():
        if not isinstance(metrics, dict):
            raise HistoryError(where, f"history snapshot: band {band!r} must be a mapping")
        for k, v in metrics.items():
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise HistoryError(where, f"history snapshot: {band}.{k} must be a finite number")
        out[str(band)] = {str(k): float(v) for k, v in metrics.items()}
    return Prior(baselines=out, fade_level=level)


def open_history(path: str | Path | None, *, create: bool = True) -> History:
    """Open ``path`` or the default file."""
    return History(path or default_path(), create=create)


__all__ = [
    "BANDS",
    "SCHEMA_VERSION",
    "History",
    "HistoryError",
    "band_of",
    "default_path",
    "open_history",
    "prior_from_json",
    "prior_to_json",
]
