"""The one place where the stages meet: Packet -> decode -> core -> cues -> sinks.

Live mode and replay both call :meth:`Session.process` for every raw packet, in arrival order, so
a recording plus a cue profile always yields the same steps and cues at the same sensor times.
What happens to packets, steps, cues and events (recorded, printed, spoken) is decided by the
:class:`~downhill_live.sinks.Sink` objects handed to the session, the same kinds for live and
replay.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from downhill_live.config.cue_profile import CueProfile, Prior, load_cue_profile, parse_cue_profile
from downhill_live.config.devices import combine
from downhill_live.config.firmware import FirmwareProfile, parse_firmware_profile
from downhill_live.core import GaitTracker
from downhill_live.core.tracker import _rows_to_steps
from downhill_live.cues import CueEngine
from downhill_live.decode import (
    StepSource,
    StreamDecoder,
    decoder_for,
    make_decoder,
    stream_range_g,
    stream_rate_hz,
)
from downhill_live.decode._kernels import ERR_CAPACITY
from downhill_live.decode._kernels import OK as DECODE_OK
from downhill_live.decode.base import check_setting
from downhill_live.decode.fast import FastDecoder
from downhill_live.decode.registry import stream_settings
from downhill_live.decode.rsc import RscDecoder
from downhill_live.errors import (
    ConfigError,
    DecodeError,
    DecodeErrorKind,
    DownhillError,
    RecordingError,
)
from downhill_live.fused import FusedPacket
from downhill_live.odometer import Odometer
from downhill_live.record import AttachedTrack, Recording, Skip, attached_track, read_recording
from downhill_live.sinks import Sink, overrides
from downhill_live.source import Source
from downhill_live.stepstats import StepStats
from downhill_live.tools.descents import DescentStats
from downhill_live.types import PLACEMENTS, Cue, Packet, Samples, Step, make_step

log = logging.getLogger(__name__)


#: stream settings a recording header (or ``decode --set``) may carry: key -> what it sets (each
#: decoder declares those it takes, see :attr:`downhill_live.decode.Decoder.settings`)
SETTINGS: dict[str, str] = {key: s.help for key, s in stream_settings().items()}


def apply_settings(profile: FirmwareProfile, settings: dict[str, Any]) -> FirmwareProfile:
    """Apply stream settings (see :data:`SETTINGS`) to the streams of ``profile`` they concern,
    as each stream's decoder says: ``rate_hz``/``scale_g`` to layout streams,
    ``rate_hz``/``factor``/``range_g``/``resolution_bits`` to Polar PMD streams,
    ``cadence_one_foot`` to RSC streams."""
    known = stream_settings()
    for key, value in settings.items():
        if key not in known:
            raise ConfigError(
                profile.path, f"unknown setting {key!r}; allowed: {', '.join(sorted(known))}"
            )
        check_setting(profile.path, key, value, known[key])
    if not settings:
        return profile
    streams = {}
    for name, stream in profile.streams.items():
        changes = decoder_for(profile, stream).apply_settings(stream, settings)
        streams[name] = dataclasses.replace(stream, **changes) if changes else stream
    return dataclasses.replace(profile, streams=streams)


#: metrics a cadence-only sensor (RSC foot pod) provides
CADENCE_ONLY_METRICS = frozenset({"cadence_spm"})

#: steps the session's statistics take at a time, after a packet that brought no step (see
#: :meth:`Session._take_stats`): one step costs them ~30 us with the caches cold between live
#: packets, each further step of a batch ~4 us; a batch of 64 cost its packet ~250 us
STATS_BATCH = 8
#: pending steps kept at most: a packet takes those past it (a foot pod's packets all bring
#: steps, ~3 a packet, taken as they come; a replay's batches bring many)
STATS_BACKLOG = 16
#: with :attr:`Session.defer` set, pending steps kept at most before a packet takes them itself
STATS_DEFERRED_MAX = 256

#: decoders whose streams carry a grade of their own (a treadmill's inclination)
GRADE_DECODERS = frozenset({"ftms"})
#: decoders whose streams are a barometer of their own (the Thingy:52's pressure)
PRESSURE_DECODERS = frozenset({"thingy_pressure"})

#: what would give a set-up without a grade source one (said with the grade notice)
GRADE_FIXES = (
    "a sensor with a barometer, a treadmill, a watch file after the run "
    "(downhill-live attach), or 'when: always' in the cue profile"
)


def grade_sources(firmware: FirmwareProfile, placement: str) -> tuple[str, ...]:
    """The grade sources a set-up has (see :data:`downhill_live.core.grade.SOURCES`), best
    first: ``treadmill`` (a Fitness Machine stream), ``barometer`` (a stream with a pressure
    channel), ``foot tilt`` (foot placement: only after a still stand on level ground)."""
    out = []
    if any(st.decoder in GRADE_DECODERS for st in firmware.streams.values()):
        out.append("treadmill")
    if any(
        (st.layout is not None and st.layout.pressure_field is not None)
        or st.decoder in PRESSURE_DECODERS
        for st in firmware.streams.values()
    ):
        out.append("barometer")
    if placement == "foot" and firmware.has_acceleration:
        out.append("foot tilt")
    return tuple(out)


def grade_notice(
    firmware: FirmwareProfile, placement: str, cues: CueProfile, *, attached: bool = False
) -> tuple[str, str] | None:
    """(console line, spoken sentence) when the cue profile gates rules on descents and the
    set-up cannot know the grade, or only from the foot's tilt after a still stand; else None."""
    gated = [r.name for r in cues.rules if r.when == "descent"]
    if not gated:
        return None
    have = grade_sources(firmware, placement)
    if attached or "treadmill" in have or "barometer" in have:
        return None
    if "foot tilt" in have:
        return (
            f"grade: only from the foot's tilt, and only after standing still for a second on "
            f"level ground at the start; {', '.join(gated)} fire(s) on descents only. "
            f"Otherwise use {GRADE_FIXES}",
            "Stand still for a second on level ground, so that I can find the slope.",
        )
    return (
        f"grade unknown: {firmware.name} on the {placement} cannot measure the slope, so "
        f"{', '.join(gated)} (on descents only) will not fire; use {GRADE_FIXES}",
        "I cannot tell the slope with this sensor: descent cues are off. "
        "A sensor with a barometer, a treadmill or a watch file would fix it.",
    )


@dataclass
class SessionStats:
    """Counters the live status line and the summary show."""

    packets: int = 0
    samples: int = 0
    lost_samples: int = 0
    decode_errors: Counter[str] = field(default_factory=Counter)


class Session:
    """Stateful pipeline for one sensor session.

    Every sink in ``sinks`` gets each raw packet before it is decoded, then each step and each
    cue, in order; :meth:`event` passes session events on; :meth:`close` closes the sinks.
    """

    def __init__(
        self,
        firmware: FirmwareProfile,
        cues: CueProfile,
        *,
        placement: str | None = None,
        sinks: Sequence[Sink] = (),
        keep_steps: bool = True,
    ) -> None:
        self.firmware = firmware
        self.placement = placement or firmware.placement
        if self.placement not in PLACEMENTS:
            raise ConfigError(
                "--placement", f"must be one of {', '.join(PLACEMENTS)}, got {self.placement!r}"
            )
        self.decoders: dict[str, StreamDecoder] = {
            name: make_decoder(firmware, stream) for name, stream in firmware.streams.items()
        }
        # decided once: a runtime Protocol isinstance check per packet costs seconds per hour
        self._step_sources: dict[str, StepSource] = {
            name: d for name, d in self.decoders.items() if isinstance(d, StepSource)
        }
        # streams that measure grade and speed themselves (a treadmill: core/grade.py's first
        # source); their readings take effect from the next acceleration sample
        self._grade_sources = {
            name: d for name, d in self.decoders.items() if hasattr(d, "take_readings")
        }
        # streams that are a barometer of their own (a Thingy's pressure): each reading goes to
        # the core with the next acceleration sample (of the device that gives the strikes)
        self._pressure_sources = {
            name: d for name, d in self.decoders.items() if hasattr(d, "take_pressure")
        }
        self._pending_pa = math.nan
        rates = [r for r in map(stream_rate_hz, firmware.streams.values()) if r is not None]
        rate_hz = rates[0] if rates else 100.0
        ranges = [r for r in map(stream_range_g, firmware.streams.values()) if r is not None]
        #: one-line notices for the user (said once, e.g. by the CLI before the session starts)
        self.notices: list[str] = []
        if not firmware.has_acceleration:
            off = [r.name for r in cues.rules if r.metric not in CADENCE_ONLY_METRICS]
            if off:
                cues = dataclasses.replace(
                    cues, rules=tuple(r for r in cues.rules if r.name not in off)
                )
            blind = [r.name for r in cues.rules if r.when == "descent"]
            self.notices.append(
                f"{firmware.name} reports cadence only (no acceleration, no grade): "
                + (f"rules switched off: {', '.join(off)}" if off else "all rules kept")
                + (
                    f"; {', '.join(blind)} only fire(s) on descents, which it cannot see"
                    if blind
                    else ""
                )
            )
            for notice in self.notices:
                log.warning("%s", notice)
        d = cues.descent
        self.tracker = GaitTracker(
            rate_hz,
            self.placement,
            descent_threshold_pct=d.threshold_pct,
            descent_exit_pct=d.exit_pct,
            descent_min_s=d.min_s,
            range_g=ranges[0] if ranges else None,
        )
        for warning in self.tracker.warnings_:  # e.g. peak_g under-sampled below 200 Hz
            self.notices.append(warning)
            log.warning("%s", warning)
        #: the cue profile in force (after switching off what the sensor cannot measure)
        self.cue_profile = cues
        self.engine = CueEngine(cues)
        self.sinks: tuple[Sink, ...] = ()
        self._packet_sinks: list[Sink] = []
        self._step_sinks: list[Sink] = []
        self._cue_sinks: list[Sink] = []
        #: distance and pace, when the set-up measures them (a foot pod here; a watch file
        #: attached to a recording: :func:`session_from_recording`); None otherwise
        self.odometer: Odometer | None = None
        pods = [n for n, d in self.decoders.items() if isinstance(d, RscDecoder)]
        if pods:
            self.odometer = Odometer(rsc_streams=pods)
            sinks = (*sinks, self.odometer)
        self.attach(*sinks)
        self.stats = SessionStats()
        #: every step, in order (empty with ``keep_steps=False``: the summary and the descent
        #: lines come from :attr:`step_stats`, whose memory does not grow with the run)
        self.steps: list[Step] = []
        self.keep_steps = keep_steps
        self._step_stats = StepStats(self.cue_profile)
        # steps not yet given to the statistics: the cues do not need them, so a packet that
        # completes a step leaves them to the next packets (see _take_stats; a live packet
        # that completes a step would spend ~20 us more on its step with cold caches, and
        # batches of 64 steps cost one packet ~250 us)
        self._stats_pending: list[Step] = []
        # a provisional step (the first after a pause, which a larger impact may still
        # replace): shown to the step sinks and kept at once, given to the rules once settled
        self._held: Step | None = None
        #: a scheduler for work no cue waits for (live and paced replay: the event loop's
        #: ``call_soon``, so it runs once the packet's handling is done and the loop is idle):
        #: the step statistics then leave :meth:`process`; None: taken within it, in batches
        self.defer: Callable[[Callable[[], None]], Any] | None = None
        self._stats_due = False
        self._error_kinds_logged: set[str] = set()
        #: receive time minus sensor time (s), from the first decoded packet; nan before
        self.rx_minus_sensor_s = math.nan
        self._alt_track: tuple[np.ndarray, np.ndarray] | None = None
        self._grade_said = False
        #: streams whose packets take one compiled call each (:mod:`downhill_live.fused`): a
        #: compiled decoder whose stream is no grade, pressure or step source of its own
        self._fused: dict[str, FusedPacket] = {
            name: FusedPacket(d, self.tracker)
            for name, d in self.decoders.items()
            if isinstance(d, FastDecoder)
            and name not in self._step_sources
            and name not in self._grade_sources
            and name not in self._pressure_sources
        }

    def use_altitude(self, t_rx_s: np.ndarray, altitude_m: np.ndarray) -> None:
        """Give the core a grade source from another device of the same run (a watch's
        barometric altitude, attached to the recording): samples that carry no pressure of their
        own get the ISA pressure of the altitude interpolated at their time (``t_rx_s`` on the
        receive-time clock of the raw packets). Call before the first packet."""
        t = np.asarray(t_rx_s, dtype=np.float64)
        alt = np.asarray(altitude_m, dtype=np.float64)
        ok = np.isfinite(t) & np.isfinite(alt)
        self._alt_track = (t[ok], alt[ok]) if ok.sum() >= 2 else None

    def _clock(self, packet: Packet, samples: Samples) -> None:
        if math.isnan(self.rx_minus_sensor_s) and len(samples.t_s):
            self.rx_minus_sensor_s = float(packet.t_rx_s - samples.t_s[-1])

    def _with_pressure(self, samples: Samples) -> Samples:
        if samples.pressure_pa is not None or not len(samples.t_s):
            return samples
        if self._pending_pa == self._pending_pa:  # a barometer stream's reading (not nan)
            pressure = np.full(len(samples.t_s), np.nan)
            pressure[0], self._pending_pa = self._pending_pa, math.nan
            return dataclasses.replace(samples, pressure_pa=pressure)
        if self._alt_track is None:
            return samples
        t, alt = self._alt_track
        off = 0.0 if math.isnan(self.rx_minus_sensor_s) else self.rx_minus_sensor_s
        h = np.interp(samples.t_s + off, t, alt, left=np.nan, right=np.nan)
        return dataclasses.replace(samples, pressure_pa=isa_pressure_pa(h))

    def announce_grade(self, t_s: float) -> None:
        """Say once (to every sink: a console line, a spoken sentence, a recorded event) that
        the set-up cannot know the grade while the cue profile gates rules on descents (see
        :func:`grade_notice`). Called with the first packet."""
        if self._grade_said:
            return
        self._grade_said = True
        said = grade_notice(
            self.firmware, self.placement, self.cue_profile, attached=self._alt_track is not None
        )
        if said is None:
            return
        line, phrase = said
        log.info("%s", line)
        self.notices.append(line)
        for sink in self.sinks:
            sink.notice(line)
            sink.event(t_s, {"event": "grade_unknown", "phrase": phrase})

    def process(self, packet: Packet) -> list[Cue]:
        """Run one raw packet through decode -> core -> cues. Malformed packets are counted and
        logged once per kind; they never end the session."""
        if not self._grade_said:
            self.announce_grade(packet.t_rx_s)
        self.stats.packets += 1
        for sink in self._packet_sinks:
            sink.packet(packet)  # raw first
        decoder = self.decoders.get(packet.stream)
        if decoder is None:
            self._decode_error(
                DecodeError(
                    f"unknown stream {packet.stream!r}",
                    kind=DecodeErrorKind.UNKNOWN_STREAM,
                    index=self.stats.packets - 1,
                )
            )
            return []
        fused = self._fused.get(packet.stream)
        if fused is not None and fused.decoder is decoder and self._alt_track is None:
            return self._process_fused(fused, packet)
        try:
            samples = decoder.decode(packet, self.stats.packets - 1)
        except DecodeError as exc:
            self._decode_error(exc)
            return []
        self._clock(packet, samples)
        return self._feed(packet.stream, samples)

    def _process_fused(self, fused: FusedPacket, packet: Packet) -> list[Cue]:
        """:meth:`process` after the packet sinks, in one compiled call (see
        :mod:`downhill_live.fused`): the same steps, cues and counters as decode + :meth:`_feed`."""
        pending = self._pending_pa
        rx = packet.t_rx_s
        while True:
            status, n, used, n_rows, lost_total, jumped, first = fused.run(
                packet.payload, rx, pending
            )
            if jumped:
                fused.decoder.note_jump()
            if status != ERR_CAPACITY:
                break
            fused.decoder.grow()
        dec = fused.decoder
        if status != DECODE_OK:
            self._decode_error(dec.error(status, packet, self.stats.packets - 1))
            return []
        stats = self.stats
        stats.samples += n
        stats.lost_samples += lost_total - dec._lost_seen
        dec._lost_seen = lost_total
        if n:
            if self.rx_minus_sensor_s != self.rx_minus_sensor_s:  # nan: the first samples
                self.rx_minus_sensor_s = float(rx - dec._t[n - 1])
            if pending == pending and not dec.has_pressure:
                self._pending_pa = math.nan  # given to the first sample
        if used >= n:  # the common case: the whole packet taken in one call
            if n_rows == 0:
                if len(self._stats_pending) >= STATS_BATCH:
                    self._stats_later()
                return []
            if n_rows == 1:  # the step's fields came with the call
                return self._take_steps([make_step(*first)])
        out: list[Cue] = []
        start = 0
        size = len(packet.payload)
        while True:
            if n_rows:
                out += self._take_steps(_rows_to_steps(fused.rows[:n_rows]))
            start += used
            if start >= n:
                return out
            # the step rows were full: the rest of the packet's samples, not decoded again
            _, _, used, n_rows, _, _, _ = fused.step(size, rx, pending, start, n)

    def process_many(self, packets: Sequence[Packet], *, max_run: int = 4096) -> list[Cue]:
        """Same steps, cues and counters as :meth:`process` on each packet in turn, faster:
        runs of equal-size packets of one stream are decoded in one numpy call and fed to the
        core at once (the core's output does not depend on chunking). Used where nothing waits
        for the packets' real timing (replay as fast as possible, analysis, tuning)."""
        out: list[Cue] = []
        if packets and not self._grade_said:
            self.announce_grade(packets[0].t_rx_s)
        i, n = 0, len(packets)
        while i < n:
            first = packets[i]
            decoder = self.decoders.get(first.stream)
            batch = getattr(decoder, "decode_many", None)
            j = i + 1
            if batch is not None:
                size = len(first.payload)
                while (
                    j < n
                    and j - i < max_run
                    and packets[j].stream == first.stream
                    and len(packets[j].payload) == size
                ):
                    j += 1
            samples = (
                batch(packets[i:j], self.stats.packets) if batch is not None and j - i > 1 else None
            )
            if samples is None:
                for packet in packets[i:j]:
                    out += self.process(packet)
            else:
                self.stats.packets += j - i
                for packet in packets[i:j] if self._packet_sinks else ():
                    for sink in self._packet_sinks:
                        sink.packet(packet)
                self._clock(packets[j - 1], samples)
                out += self._feed(first.stream, samples)
            i = j
        return out

    def process_all(
        self, packets: Sequence[Packet], *, progress: str | None = None, batch: int = 2048
    ) -> None:
        """:meth:`process_many` over all ``packets`` in batches of ``batch``; with ``progress``
        (a label), a progress bar on standard error when it is a terminal (tqdm)."""
        starts = range(0, len(packets), batch)
        bar = tqdm(
            total=len(packets),
            desc=progress,
            unit=" packets",
            unit_scale=True,
            leave=False,
            disable=None if progress else True,  # None: shown on a terminal only
            file=sys.stderr,
        )
        with bar:
            for k in starts:
                self.process_many(packets[k : k + batch])
                bar.update(min(batch, len(packets) - k))

    def _feed(self, stream: str, samples: Samples) -> list[Cue]:
        """Decoded samples of ``stream`` -> core -> cues (callbacks fire in order)."""
        self.stats.samples += len(samples.t_s)
        self.stats.lost_samples += samples.lost
        samples = self._with_pressure(samples)
        if stream in self._pressure_sources:
            for p_reading in self._pressure_sources[stream].take_pressure():
                self._pending_pa = p_reading.pressure_pa  # the latest, with the next sample
        if stream in self._grade_sources:
            for reading in self._grade_sources[stream].take_readings():
                self.tracker.set_external_grade(reading.grade_pct)
                if reading.speed_mps == reading.speed_mps:  # not nan
                    self.tracker.set_speed(reading.speed_mps)
        steps = (
            self.tracker.update_many(samples.t_s, samples.acc_g, samples.pressure_pa)
            if len(samples.t_s)
            else []
        )
        if stream in self._step_sources:
            steps += self._step_sources[stream].take_steps()
        return self._take_steps(steps)

    def _take_steps(self, steps: list[Step]) -> list[Cue]:
        """New steps -> kept, statistics, step sinks, cue rules -> cues (to the cue sinks).

        A provisional step goes to the rules when the next step shows it stands; a step that
        replaces it takes its place in the kept steps and the statistics, and the rules never
        see it (the step sinks saw both, as they came)."""
        out: list[Cue] = []
        keep, pending = self.keep_steps, self._stats_pending
        for step in steps:
            held = self._held
            if held is not None:
                self._held = None
                if not step.replaces_previous:
                    self._rules(held, out)
                else:  # it was no strike
                    if keep and self.steps and self.steps[-1] is held:
                        self.steps.pop()
                    if pending and pending[-1] is held:
                        pending.pop()
            if keep:
                self.steps.append(step)
            pending.append(step)
            for sink in self._step_sinks:
                sink.step(step)
            if step.provisional:
                self._held = step
            else:
                self._rules(step, out)
        # a provisional step stays pending (_take_stats keeps it): only what is beside it is due
        due = len(pending) - (bool(pending) and pending[-1] is self._held)
        if self.defer is not None and due > 0 and len(pending) <= STATS_DEFERRED_MAX:
            self._stats_later()
        elif not steps and len(pending) >= STATS_BATCH:
            self._take_stats()
        elif len(pending) > STATS_BACKLOG:  # the steps pile up: those past the backlog
            self._take_stats(STATS_BACKLOG)
        return out

    def _stats_later(self) -> None:
        """The pending steps to the statistics: now, or through :attr:`defer` (once)."""
        if self.defer is None:
            self._take_stats()
        elif not self._stats_due:
            self._stats_due = True
            self.defer(self._take_due)

    def _take_due(self) -> None:
        self._stats_due = False
        self._take_stats()

    def _rules(self, step: Step, out: list[Cue]) -> None:
        for cue in self.engine.update(step):
            out.append(cue)
            for sink in self._cue_sinks:
                sink.cue(cue)

    def _take_stats(self, keep: int = 0) -> None:
        """The pending steps to the statistics (see :data:`STATS_BATCH`) but the last
        ``keep``, and but a provisional step (the last one: a replacement takes it out)."""
        pending = self._stats_pending
        if self._held is not None and pending and pending[-1] is self._held:
            keep = max(keep, 1)
        add = self._step_stats.add
        n = len(pending) - keep
        for step in pending[:n]:
            add(step)
        del pending[:n]

    @property
    def step_stats(self) -> StepStats:
        """Streaming figures of the steps so far (:meth:`summary`, :meth:`descents`)."""
        self._take_stats()
        return self._step_stats

    def attach(self, *sinks: Sink) -> None:
        """Add sinks (before the first packet: a sink sees the session from its start)."""
        self.sinks += sinks
        # decided once: calling no-op methods per packet costs time on long replays
        self._packet_sinks = [k for k in self.sinks if overrides(k, "packet")]
        self._step_sinks = [k for k in self.sinks if overrides(k, "step")]
        self._cue_sinks = [k for k in self.sinks if overrides(k, "cue")]

    def event(self, t_s: float, event: dict[str, Any]) -> None:
        """Pass a session event (``{"event": "link_lost"}``, ...) at receive time ``t_s`` to
        every sink."""
        for sink in self.sinks:
            sink.event(t_s, event)

    def close(self) -> None:
        """End the rules (a descent still open gets its summary, if the profile asks for one),
        then close every sink (each once, in order)."""
        if self._held is not None:  # the last step was provisional, and nothing replaced it
            held, self._held = self._held, None
            out: list[Cue] = []
            self._rules(held, out)
        for cue in self.engine.finish():
            for sink in self._cue_sinks:
                sink.cue(cue)
        for sink in self.sinks:
            sink.close()

    def _decode_error(self, exc: DecodeError) -> None:
        # counted and logged once per kind (the decoder's DecodeErrorKind): garbage packets of
        # a thousand lengths are one line, not a thousand; the recording keeps every packet raw
        kind = exc.kind.value
        self.stats.decode_errors[kind] += 1
        if kind not in self._error_kinds_logged:
            self._error_kinds_logged.add(kind)
            log.warning("%s (further errors of this kind are counted, not logged)", exc)

    @property
    def cues(self) -> list[Cue]:
        return self.engine.cues_

    def summary(self) -> dict[str, Any]:
        """Figures for the end-of-session summary (JSON-friendly; NaN -> None): step counts,
        duration, cadence and peak impact medians flat / on descents, peak impact percentiles,
        time on descents (from :attr:`step_stats`: exactly the rounded numpy figures of all
        steps, without keeping them), distance and pace when measured, cues, data counters."""
        st = self.step_stats
        per_rule = Counter(c.rule for c in self.cues)
        return {
            **self._distance_summary(st.t_first_s, st.t_last_s, st.n_steps),
            **st.summary_figures(),
            "cues": dict(sorted(per_rule.items())),
            "packets": self.stats.packets,
            "lost_samples": self.stats.lost_samples,
            "decode_errors": dict(self.stats.decode_errors),
        }

    def descents(self) -> list[DescentStats]:
        """Per-descent statistics of the session so far, as
        :func:`~downhill_live.tools.descents.descent_stats` gives them for all steps with the
        session's cue profile (from :attr:`step_stats`: the steps need not be kept)."""
        return self.step_stats.descents(self.cues)

    def rx_time_s(self, t_s: float) -> float:
        """A sensor time as receive time (the clock of the raw records and of an attached
        track); the same time for sensors without a clock of their own."""
        off = self.rx_minus_sensor_s
        return t_s + (0.0 if math.isnan(off) else off)

    def _distance_summary(self, t0_s: float, t1_s: float, n_steps: int) -> dict[str, Any]:
        """Distance and average pace over the steps' time span (first to last of
        ``n_steps``), when the set-up measures them (see :mod:`downhill_live.odometer`);
        nothing otherwise."""
        odo = self.odometer
        if odo is None or n_steps < 2:
            return {}
        dist_m = odo.distance_between(self.rx_time_s(t0_s), self.rx_time_s(t1_s))
        if dist_m is None:
            return {}
        pace = ((t1_s - t0_s) / dist_m * 1000.0) if dist_m > 0 else None
        return {
            "distance_m": round(dist_m, 1),
            "pace_s_per_km": None if pace is None else round(pace, 1),
            "distance_source": odo.source,
        }


def isa_pressure_pa(altitude_m: np.ndarray) -> np.ndarray:
    """ISA standard-atmosphere pressure (Pa) at an altitude (m); nan stays nan. The core turns
    it back into the same altitude (its inverse formula), so only altitude differences matter.

    Examples
    --------
    >>> round(float(isa_pressure_pa(np.array([0.0]))[0]))
    101325
    """
    return 101325.0 * (1.0 - 2.25577e-5 * np.asarray(altitude_m, dtype=np.float64)) ** 5.25588


async def run_source(source: Source, session: Session) -> None:
    """Feed everything ``source`` yields to ``session``, in order: packets to
    :meth:`Session.process`, events to :meth:`Session.event`. Live mode and paced replay both
    run through here. A pipeline bug on one packet is logged and the stream goes on (in live
    mode the packet is already recorded raw). Work no cue waits for (the step statistics) is
    left to the loop's idle time after each packet (:attr:`Session.defer`)."""
    session.defer = asyncio.get_running_loop().call_soon
    try:
        async for item in source:
            if isinstance(item, Packet):
                try:
                    session.process(item)
                except Exception:  # a pipeline bug must not stop the recording
                    log.exception("processing packet %d failed", session.stats.packets - 1)
            else:
                session.event(item[0], item[1])
    finally:
        session.defer = None  # what is still due is taken by the next packet or the summary
        session._stats_due = False


def recording_firmware(rec: Recording, path: str) -> FirmwareProfile:
    """The firmware profile snapshot stored in a recording's header, with the stream settings
    stored next to it applied."""
    fw_doc = rec.header.get("firmware")
    if not isinstance(fw_doc, dict) or not isinstance(fw_doc.get("yaml"), str):
        raise RecordingError(path, "header has no firmware profile snapshot (key firmware.yaml)")
    firmware = parse_firmware_profile(fw_doc["yaml"], f"{path}#firmware")
    firmware = apply_settings(firmware, rec.header.get("settings") or {})
    beside = rec.header.get("beside")
    if beside is None:  # a one-device recording
        return firmware
    if not isinstance(beside, list):
        raise RecordingError(path, "header key 'beside' must be a list of devices")
    others = []
    for i, doc in enumerate(beside):
        key = f"beside[{i}]"
        fw = doc.get("firmware") if isinstance(doc, dict) else None
        streams = doc.get("streams") if isinstance(doc, dict) else None
        if not isinstance(fw, dict) or not isinstance(fw.get("yaml"), str):
            raise RecordingError(path, f"header key '{key}.firmware.yaml' is missing")
        profile = parse_firmware_profile(fw["yaml"], f"{path}#{key}.firmware")
        profile = apply_settings(profile, doc.get("settings") or {})
        if not isinstance(streams, list) or not all(s in profile.streams for s in streams):
            raise RecordingError(
                path, f"header key '{key}.streams' must list streams of {profile.name}"
            )
        others.append((profile, {s: profile.streams[s] for s in streams}))
    try:
        return combine(firmware, others)
    except ConfigError as exc:
        raise RecordingError(path, str(exc)) from None


def recording_cue_profile(rec: Recording, path: str) -> CueProfile | None:
    """The cue profile a live session stored in its header (key ``cue_profile.yaml``), or None
    when it stored none (recordings made before it was stored, imports)."""
    doc = rec.header.get("cue_profile")
    if doc is None:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("yaml"), str):
        raise RecordingError(path, "header key 'cue_profile' must be an object with a 'yaml' text")
    return parse_cue_profile(doc["yaml"], f"{path}#cue_profile")


def session_from_recording(
    path: str,
    cues: CueProfile | None,
    *,
    placement: str | None = None,
    use_attached: bool = True,
    **kwargs: Any,
) -> tuple[Session, Recording]:
    """Read a recording and build the session that replays it: the firmware profile snapshot
    and stream settings stored in its header, the placement it names (unless overridden),
    ``cues``, or when None the cue profile the live session used (stored in the header), else
    the bundled one, and (``use_attached``) the grade from altitude attached with
    ``downhill-live attach``."""
    rec = read_recording(path)
    return session_for_recording(
        rec, path, cues, placement=placement, use_attached=use_attached, **kwargs
    ), rec


def session_for_recording(
    rec: Recording,
    path: str,
    cues: CueProfile | None,
    *,
    placement: str | None = None,
    use_attached: bool = True,
    **kwargs: Any,
) -> Session:
    """The session that replays ``rec`` (read from ``path``); see
    :func:`session_from_recording` (which reads it first)."""
    firmware = recording_firmware(rec, path)
    if cues is None:
        cues = recording_cue_profile(rec, path) or load_cue_profile()
    stored = rec.header.get("placement")
    if placement is None and stored is not None and stored not in PLACEMENTS:
        raise RecordingError(
            path, f"header key 'placement' must be one of {', '.join(PLACEMENTS)}, got {stored!r}"
        )
    for skip in rec.skipped:
        log.warning("%s: %s", path, describe_skip(skip))
    if rec.dropped_tail_bytes:
        log.warning(
            "%s: last %d bytes are an incomplete or corrupt record; "
            "reading up to the last complete record",
            path,
            rec.dropped_tail_bytes,
        )
    snapshot = stored_prior(rec, path)
    if snapshot is not None and cues.prior == Prior():
        # coached from the runner history: replay exactly what the session started from
        cues = dataclasses.replace(cues, prior=snapshot)
    try:
        session = Session(firmware, cues, placement=placement or stored, **kwargs)
    except DownhillError as exc:  # e.g. a stored sample rate the gait core does not take
        raise RecordingError(path, str(exc)) from None
    track = attached_track(rec)
    if use_attached and track is not None and "altitude_m" in track.columns:
        session.use_altitude(track.t_s, track.columns["altitude_m"])
        log.info("%s: grade from the attached %s altitude", path, track.meta.get("format", ""))
    if use_attached and session.odometer is None:
        session.odometer = Odometer.for_track(track)  # needs no packets: not a sink
    return session


def stored_prior(rec: Recording, path: str) -> Prior | None:
    """The runner-history snapshot a live session stored in its header (``live.history``),
    or None."""
    # lazy: sqlite3 and the history module only for recordings coached from a history
    from downhill_live.history import prior_from_json

    live = rec.header.get("live")
    if not isinstance(live, dict) or "history" not in live:
        return None
    return prior_from_json(live["history"], f"{path}#live.history")


def recording_track(rec: Recording) -> AttachedTrack | None:
    """The data attached to a recording (see :func:`downhill_live.record.attached_track`)."""
    return attached_track(rec)


def describe_skip(skip: Skip) -> str:
    """One line for a damaged stretch the reader skipped."""
    if math.isnan(skip.span_s):
        when = "at the edge of the recorded data"
    else:
        when = f"between {skip.after_t_s:.2f} s and {skip.before_t_s:.2f} s ({skip.span_s:.2f} s)"
    return f"skipped {skip.n_bytes} damaged bytes at byte {skip.offset}, {when}"


def fmt_value(x: float | None) -> str:
    """Format a metric for the console: 1 decimal, 'n/a' for unknown."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.1f}"
