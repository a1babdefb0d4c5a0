"""Start and stop of a ``polar_pmd_acc`` stream over a :class:`~downhill_live.decode.base.Link`.

Start: subscribe to the PMD control point (indications), optionally start SDK mode, then send
the ACC start request with the stream's settings and wait for each answer; the ACC start
response carries the scale ``factor``, returned as a stream setting. Stop: the ACC stop request,
then the SDK-mode stop. Failures raise :class:`~downhill_live.errors.HandshakeError` with a kind.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from downhill_live.decode.base import Link, StreamConfig
from downhill_live.decode.polar_pmd.wire import (
    MEASUREMENT_TYPE_MASK,
    PmdControlResponse,
    PmdErrorCode,
    PmdMeasurementType,
    PmdOpCode,
    build_start_request,
    build_stop_request,
    join_responses,
)
from downhill_live.errors import DecodeError, HandshakeError, HandshakeErrorKind

log = logging.getLogger(__name__)


class ControlPointAnswers:
    """Collects control point answers (indications) during a start handshake."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    def put(self, raw: bytes) -> None:
        """Subscription callback: keep one indication value."""
        self.queue.put_nowait(raw)

    async def answer(self, op: PmdOpCode, measurement: int, timeout_s: float) -> PmdControlResponse:
        """The (joined) response to ``op`` for ``measurement``; other packets are skipped."""
        parts: list[PmdControlResponse] = []
        async with asyncio.timeout(timeout_s):
            while True:
                raw = await self.queue.get()
                try:
                    resp = PmdControlResponse.from_bytes(raw)
                except DecodeError as exc:
                    log.info("control point: ignoring %s (%s)", raw.hex(), exc.message)
                    continue
                if not parts and (
                    resp.op_code != op
                    or (resp.measurement_type & MEASUREMENT_TYPE_MASK) != measurement
                ):
                    continue
                parts.append(resp)
                if not resp.more:
                    return join_responses(*parts)


async def _command(
    link: Link,
    answers: ControlPointAnswers,
    cp_uuid: str,
    request: bytes,
    measurement: int,
    timeout_s: float,
    what: str,
) -> PmdControlResponse:
    await link.write(cp_uuid, request, response=True)
    try:
        return await answers.answer(PmdOpCode(request[0]), measurement, timeout_s=timeout_s)
    except TimeoutError:
        raise HandshakeError(
            f"{link.device}: device did not answer the {what} command within {timeout_s:g} s",
            kind=HandshakeErrorKind.NO_ANSWER,
        ) from None


def _check(link: Link, resp: PmdControlResponse, what: str) -> None:
    if resp.ok or resp.error_code == PmdErrorCode.ERROR_ALREADY_IN_STATE:
        return
    hint = ""
    if resp.error_code == PmdErrorCode.ERROR_INVALID_MTU:
        hint = f" (link ATT MTU {link.mtu} is too small for this sensor)"
    raise HandshakeError(
        f"{link.device} refused the {what}: {resp.error_name}{hint}",
        kind=HandshakeErrorKind.REFUSED,
    )


async def start(link: Link, stream: StreamConfig) -> dict[str, Any]:
    """Start the ACC stream (and SDK mode first when ``params.sdk_mode``).

    Returns
    -------
    dict
        ``{"factor": ...}`` when the start response carries one, else empty.

    Raises
    ------
    HandshakeError
        No answer in ``params.start_timeout_s``, a refusal, an unreadable answer, or settings
        that do not fit the start request.
    """
    p = stream.params
    cp_uuid = p["control_point"]
    answers = ControlPointAnswers()
    await link.subscribe(cp_uuid, answers.put)
    timeout_s = float(p["start_timeout_s"])
    if p.get("sdk_mode"):
        req = bytes((PmdOpCode.REQUEST_MEASUREMENT_START, PmdMeasurementType.SDK_MODE))
        resp = await _command(
            link, answers, cp_uuid, req, PmdMeasurementType.SDK_MODE, timeout_s, "SDK mode"
        )
        _check(link, resp, "SDK mode start")
    try:
        req = build_start_request(
            "acc",
            sample_rate_hz=int(p["sample_rate_hz"]),
            resolution_bits=int(p["resolution_bits"]),
            range_g=int(p["range_g"]),
            channels=p.get("channels"),
        )
    except ValueError as exc:
        raise HandshakeError(
            f"{link.profile_path}: streams.{stream.name}: {exc}",
            kind=HandshakeErrorKind.BAD_REQUEST,
        ) from None
    resp = await _command(link, answers, cp_uuid, req, PmdMeasurementType.ACC, timeout_s, "start")
    _check(link, resp, "ACC start")
    try:
        factor = resp.factor
    except DecodeError as exc:
        raise HandshakeError(
            f"{link.device} answered the start command with bad settings: {exc.message}",
            kind=HandshakeErrorKind.BAD_ANSWER,
        ) from None
    return {} if factor is None else {"factor": factor}


async def stop(link: Link, stream: StreamConfig) -> None:
    """Stop the ACC stream, then SDK mode when ``params.sdk_mode``."""
    cp_uuid = stream.params["control_point"]
    await link.write(cp_uuid, build_stop_request("acc"), response=True)
    if stream.params.get("sdk_mode"):
        stop_sdk = bytes((PmdOpCode.STOP_MEASUREMENT, PmdMeasurementType.SDK_MODE))
        await link.write(cp_uuid, stop_sdk, response=True)


__all__ = ["ControlPointAnswers", "start", "stop"]
