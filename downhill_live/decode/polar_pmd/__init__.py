"""The ``polar_pmd_acc`` decoder: Polar Measurement Data (PMD) ACC streams (H10, Verity Sense).

One folder, side by side:

* :mod:`~downhill_live.decode.polar_pmd.wire`: the byte formats, each parser with its encoder
  (control point requests and responses, ACC data frames; the virtual Polar sensors use the
  encoders);
* :mod:`~downhill_live.decode.polar_pmd.stream`: :class:`PmdAccDecoder`, the per-stream state
  (sensor time, gaps, restarts);
* :mod:`~downhill_live.decode.polar_pmd.handshake`: the start/stop handshake over a
  :class:`~downhill_live.decode.base.Link`;
* this module: the ``params`` schema, the stream settings and :data:`DECODER`, the registry
  entry. The wire names are importable from here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from downhill_live.config.yamlio import Checker
from downhill_live.decode.base import (
    Decoder,
    ParsedStream,
    RestartingDecoder,
    Setting,
    StreamConfig,
    StreamDecoder,
    replace_params,
)
from downhill_live.decode.polar_pmd import handshake
from downhill_live.decode.polar_pmd.handshake import ControlPointAnswers
from downhill_live.decode.polar_pmd.stream import PmdAccDecoder
from downhill_live.decode.polar_pmd.wire import (
    CONTROL_POINT_RESPONSE_CODE,
    H10_ACC,
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    PMD_EPOCH_UNIX_S,
    PMD_SERVICE_UUID,
    VERITY_SENSE_ACC,
    VERITY_SENSE_SDK_MODE_ACC,
    AccCapabilities,
    PmdControlResponse,
    PmdErrorCode,
    PmdFrame,
    PmdFrameHeader,
    PmdMeasurementType,
    PmdOpCode,
    PmdSettingType,
    build_settings_request,
    build_start_request,
    build_stop_request,
    decode_data_frame,
    decode_delta_frame,
    encode_pmd_acc_delta,
    encode_pmd_acc_raw,
    encode_settings,
    join_responses,
    parse_control_point_response,
    parse_settings,
    sample_times_s,
)

#: ``params`` keys -> help
PARAMS: dict[str, str] = {
    "sample_rate_hz": "ACC sample rate sent in the start request (required)",
    "range_g": "ACC range in g sent in the start request (required)",
    "resolution_bits": "resolution sent in the start request (default 16)",
    "channels": "channel count, sent only when given",
    "sdk_mode": "enable SDK mode before starting ACC (Verity Sense high rates)",
    "control_point": "PMD control point UUID (default Polar's)",
    "start_timeout_s": "seconds to wait for each control point answer (default 5)",
    "factor": "scale factor when no start response is known (default 1.0)",
}


def _parse(c: Checker, stream: dict[str, Any], key: str) -> ParsedStream:
    k = f"{key}.params"
    m = c.mapping(stream.get("params", {}), k, PARAMS)
    out: dict[str, Any] = {
        "sample_rate_hz": c.integer(
            c.require(m, k, "sample_rate_hz"), f"{k}.sample_rate_hz", lo=1, hi=65535
        ),
        "range_g": c.integer(c.require(m, k, "range_g"), f"{k}.range_g", lo=1, hi=65535),
        "resolution_bits": c.integer(
            m.get("resolution_bits", 16), f"{k}.resolution_bits", lo=1, hi=32
        ),
        "sdk_mode": c.boolean(m.get("sdk_mode", False), f"{k}.sdk_mode"),
        "control_point": c.uuid(
            m.get("control_point", PMD_CONTROL_POINT_UUID), f"{k}.control_point"
        ),
        "start_timeout_s": c.number(
            m.get("start_timeout_s", 5.0), f"{k}.start_timeout_s", lo=0.01, hi=120.0
        ),
        "factor": c.number(m.get("factor", 1.0), f"{k}.factor", lo=1e-12),
    }
    if "channels" in m:
        out["channels"] = c.integer(m["channels"], f"{k}.channels", lo=1, hi=255)
    return ParsedStream(out)


def _decoder_args(stream: StreamConfig) -> dict[str, Any]:
    p = stream.params
    return {
        "sample_rate_hz": p["sample_rate_hz"],
        "factor": p.get("factor", 1.0),
        "resolution_bits": p.get("resolution_bits", 16),
        "channels": p.get("channels", 3),
        "stream": stream.name,
    }


def reference_decoder(stream: StreamConfig) -> RestartingDecoder:
    """The Python reference of a PMD stream's decoder (what :func:`_make`'s compiled decoder
    is tested against)."""
    args = _decoder_args(stream)
    dec = RestartingDecoder(lambda: PmdAccDecoder(**args), rate_hz=float(args["sample_rate_hz"]))
    dec.stream = stream.name
    return dec


def _make(stream: StreamConfig) -> StreamDecoder:
    # lazy: the compiled decoder module loads numba kernels
    from downhill_live.decode.fast import fast_pmd_decoder

    fast = fast_pmd_decoder(**_decoder_args(stream))
    return fast if fast is not None else reference_decoder(stream)


def _rate_hz(stream: StreamConfig) -> float | None:
    return float(stream.params["sample_rate_hz"])


def _range_g(stream: StreamConfig) -> float | None:
    return float(stream.params["range_g"])  # the range the start request asked for


#: stream setting -> ``params`` key and type
_SETTING_PARAMS: dict[str, tuple[str, type]] = {
    "rate_hz": ("sample_rate_hz", int),
    "factor": ("factor", float),
    "range_g": ("range_g", int),
    "resolution_bits": ("resolution_bits", int),
}


def _apply_settings(stream: StreamConfig, settings: Mapping[str, Any]) -> dict[str, Any]:
    changes = {
        _SETTING_PARAMS[k][0]: _SETTING_PARAMS[k][1](v)
        for k, v in settings.items()
        if k in _SETTING_PARAMS
    }
    return replace_params(stream, **changes)


#: the registry entry of ``decoder: polar_pmd_acc``
DECODER = Decoder(
    name="polar_pmd_acc",
    description="Polar PMD accelerometer stream (H10, Verity Sense), started over its control point",
    has_acceleration=True,
    parse=_parse,
    make=_make,
    params=PARAMS,
    rate_hz=_rate_hz,
    range_g=_range_g,
    settings={
        # the limits are those of the params (uint16 / 32 bits in the start request)
        "rate_hz": Setting("sample rate of Polar PMD streams (Hz)", max_value=65535),
        "factor": Setting("scale factor of Polar PMD streams (from the start response)"),
        "range_g": Setting("range of Polar PMD streams (g)", max_value=65535),
        "resolution_bits": Setting("resolution of Polar PMD streams", max_value=32),
    },
    apply_settings=_apply_settings,
    start=handshake.start,
    stop=handshake.stop,
)

__all__ = [
    "CONTROL_POINT_RESPONSE_CODE",
    "DECODER",
    "H10_ACC",
    "PMD_CONTROL_POINT_UUID",
    "PMD_DATA_UUID",
    "PMD_EPOCH_UNIX_S",
    "PMD_SERVICE_UUID",
    "VERITY_SENSE_ACC",
    "VERITY_SENSE_SDK_MODE_ACC",
    "AccCapabilities",
    "ControlPointAnswers",
    "PmdAccDecoder",
    "PmdControlResponse",
    "PmdErrorCode",
    "PmdFrame",
    "PmdFrameHeader",
    "PmdMeasurementType",
    "PmdOpCode",
    "PmdSettingType",
    "build_settings_request",
    "build_start_request",
    "build_stop_request",
    "decode_data_frame",
    "decode_delta_frame",
    "encode_pmd_acc_delta",
    "encode_pmd_acc_raw",
    "encode_settings",
    "join_responses",
    "parse_control_point_response",
    "parse_settings",
    "reference_decoder",
    "sample_times_s",
]
