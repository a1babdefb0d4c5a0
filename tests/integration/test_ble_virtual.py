"""End-to-end BLE tests without hardware: bleak's public API over bumble virtual controllers.

The app side uses only ``BleakScanner``/``BleakClient`` with ``backend=``; the peer is a
:class:`VirtualSensor` on the same :class:`VirtualRadio` (a real BLE host stack over bumble's
in-process ``LocalLink``: advertising, ATT, MTU exchange, CCCD writes, notifications).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakDeviceNotFoundError

from downhill_live.sim.bumble_backend import VirtualRadio
from downhill_live.sim.virtual_sensor import (
    CharacteristicSpec,
    PayloadTooLargeError,
    ServiceSpec,
    VirtualSensor,
)

SVC = "1d5a0001-4e2b-4c1f-9a8e-3c7d2b6f0a10"  # a vendor (128-bit) service
CTRL = "1d5a0002-4e2b-4c1f-9a8e-3c7d2b6f0a10"  # control point: write + indicate
DATA = "1d5a0003-4e2b-4c1f-9a8e-3c7d2b6f0a10"  # data: notify
INFO = "1d5a0004-4e2b-4c1f-9a8e-3c7d2b6f0a10"  # read + write without response
HR_SVC = "0000180d-0000-1000-8000-00805f9b34fb"  # a 16-bit service, advertised too
HR_MEAS = "00002a37-0000-1000-8000-00805f9b34fb"

START = b"\x01"
ACK = b"\x01\x00"
NAME = "Pod 1"
ADDRESS = "F0:00:00:00:00:01"
COMPANY_ID = 0x0059


def packet(i: int, size: int = 100) -> bytes:
    """A recognisable payload: 2-byte sequence number then filler."""
    return i.to_bytes(2, "little") + bytes((i + k) % 256 for k in range(size - 2))


def make_service(payloads: list[bytes], interval_s: float) -> ServiceSpec:
    """A generic sensor: writing START acks on CTRL, then streams ``payloads`` on DATA."""

    async def on_control(sensor: VirtualSensor, data: bytes) -> None:
        if data == START:
            await sensor.notify(CTRL, ACK)
            sensor.stream(DATA, payloads, interval_s)

    return ServiceSpec(
        SVC,
        (
            CharacteristicSpec(CTRL, ("write", "indicate"), on_write=on_control),
            CharacteristicSpec(DATA, ("notify",)),
            CharacteristicSpec(INFO, ("read", "write-without-response"), b"fw 1.2.3"),
        ),
    )


HR_SERVICE = ServiceSpec(HR_SVC, (CharacteristicSpec(HR_MEAS, ("notify",)),))


class Sink:
    """What the app's notification callback does: stamp, enqueue, nothing else."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    def __call__(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        self.queue.put_nowait((asyncio.get_running_loop().time(), bytes(data)))

    async def take(self, n: int, timeout_s: float) -> list[tuple[float, bytes]]:
        """The next ``n`` packets, or TimeoutError naming how many arrived."""
        got: list[tuple[float, bytes]] = []
        try:
            async with asyncio.timeout(timeout_s):
                while len(got) < n:
                    got.append(await self.queue.get())
        except TimeoutError:
            raise TimeoutError(f"received {len(got)} of {n} packets within {timeout_s} s") from None
        return got


async def start_sensor(client: BleakClient, acks: Sink, timeout_s: float) -> None:
    """Write START and wait for the control point's ack, with a clear error on silence."""
    await client.write_gatt_char(CTRL, START, response=True)
    try:
        (_, reply), *_ = await acks.take(1, timeout_s)
    except TimeoutError:
        raise TimeoutError(
            f"sensor {client.address} did not acknowledge the start command within {timeout_s} s"
        ) from None
    assert reply == ACK


@pytest.fixture
def make_sensor(radio: VirtualRadio) -> Callable[..., VirtualSensor]:
    def make(
        payloads: list[bytes] | None = None, interval_s: float = 0.005, **kwargs: object
    ) -> VirtualSensor:
        kwargs.setdefault("rssi_dbm", -63)
        kwargs.setdefault("manufacturer_data", {COMPANY_ID: b"\x01\x02"})
        kwargs.setdefault("tx_power_dbm", 4)
        return VirtualSensor(
            radio,
            NAME,
            ADDRESS,
            [make_service(payloads or [], interval_s), HR_SERVICE],
            **kwargs,  # type: ignore[arg-type]
        )

    return make


async def connect(radio: VirtualRadio, **kwargs: object) -> BleakClient:
    device = await BleakScanner.find_device_by_name(
        NAME, timeout=2.0, backend=radio.scanner_backend
    )
    assert device is not None
    client = BleakClient(device, backend=radio.client_backend, timeout=2.0, **kwargs)  # type: ignore[arg-type]
    await client.connect()
    return client


async def test_scan_finds_sensor_with_name_services_rssi(
    radio: VirtualRadio, make_sensor: Callable[..., VirtualSensor]
) -> None:
    other = VirtualSensor(radio, "Other", "F0:00:00:00:00:02", [HR_SERVICE], rssi_dbm=-80)
    async with make_sensor(), other:
        found = await BleakScanner.discover(
            timeout=0.2, return_adv=True, backend=radio.scanner_backend
        )
        assert set(found) == {ADDRESS, "F0:00:00:00:00:02"}
        device, adv = found[ADDRESS]
        assert device.name == NAME
        assert adv.local_name == NAME
        assert adv.service_uuids == [HR_SVC, SVC]  # 16-bit list, then 128-bit; no duplicates
        assert adv.rssi == -63
        assert found["F0:00:00:00:00:02"][1].rssi == -80
        assert adv.manufacturer_data == {COMPANY_ID: b"\x01\x02"}
        assert adv.tx_power == 4

        filtered = await BleakScanner.discover(
            timeout=0.15, return_adv=True, service_uuids=[SVC], backend=radio.scanner_backend
        )
        assert set(filtered) == {ADDRESS}

        by_name = await BleakScanner.find_device_by_name(
            NAME, timeout=2.0, backend=radio.scanner_backend
        )
        assert by_name is not None and by_name.address == ADDRESS
        assert (
            await BleakScanner.find_device_by_name(
                "Absent", timeout=0.1, backend=radio.scanner_backend
            )
            is None
        )
    assert radio.callback_errors == []


async def test_connect_negotiates_mtu_and_maps_gatt(
    radio: VirtualRadio, make_sensor: Callable[..., VirtualSensor]
) -> None:
    disconnects: list[BleakClient] = []
    async with make_sensor() as sensor:
        client = await connect(radio, disconnected_callback=disconnects.append)
        assert client.is_connected
        assert client.mtu_size == 247
        assert sensor.mtu == 247
        assert client.name == NAME

        service = client.services.get_service(SVC)
        assert service is not None
        props = {c.uuid: set(c.properties) for c in service.characteristics}
        assert props == {
            CTRL: {"write", "indicate"},
            DATA: {"notify"},
            INFO: {"read", "write-without-response"},
        }
        data_char = client.services.get_characteristic(DATA)
        assert data_char is not None
        assert [d.uuid for d in data_char.descriptors] == ["00002902-0000-1000-8000-00805f9b34fb"]
        assert data_char.max_write_without_response_size == 244
        assert await client.read_gatt_descriptor(data_char.descriptors[0].handle) == b"\x00\x00"
        assert client.services.get_characteristic(HR_MEAS) is not None

        assert await client.read_gatt_char(INFO) == bytearray(b"fw 1.2.3")
        sensor.set_value(INFO, b"fw 2.0")
        assert await client.read_gatt_char(INFO) == bytearray(b"fw 2.0")
        await client.write_gatt_char(INFO, b"\xaa", response=False)
        await client.write_gatt_char(CTRL, b"\x02", response=True)
        await sensor.wait_for(lambda: len(sensor.writes) == 2)
        assert [(w.uuid, w.data) for w in sensor.writes] == [(INFO, b"\xaa"), (CTRL, b"\x02")]

        await client.disconnect()
        assert not client.is_connected
        assert disconnects == [client]  # as bleak's BlueZ/WinRT backends: also on our own
    assert radio.callback_errors == []


async def test_start_command_streams_notifications_in_order(
    radio: VirtualRadio, make_sensor: Callable[..., VirtualSensor]
) -> None:
    n, interval_s = 20, 0.01
    payloads = [packet(i) for i in range(n)]
    async with make_sensor(payloads, interval_s) as sensor:
        client = await connect(radio)
        data, acks = Sink(), Sink()
        await client.start_notify(DATA, data)
        await client.start_notify(CTRL, acks)
        await start_sensor(client, acks, timeout_s=1.0)

        got = await data.take(n, timeout_s=2.0)
        assert [p for _, p in got] == payloads
        span_s = got[-1][0] - got[0][0]
        assert span_s >= (n - 1) * interval_s * 0.5  # paced, not a burst (slack for load)
        await client.stop_notify(DATA)
        await sensor.wait_for(lambda: not sensor.is_subscribed(DATA))
        assert not await sensor.notify(DATA, b"late")
        await client.disconnect()
    assert radio.callback_errors == []


async def test_peripheral_drop_fires_callback_and_reconnect_resumes(
    radio: VirtualRadio, make_sensor: Callable[..., VirtualSensor]
) -> None:
    payloads = [packet(i) for i in range(400)]
    dropped = asyncio.Event()
    async with make_sensor(payloads) as sensor:
        client = await connect(radio, disconnected_callback=lambda _c: dropped.set())
        data, acks = Sink(), Sink()
        await client.start_notify(DATA, data)
        await client.start_notify(CTRL, acks)
        await start_sensor(client, acks, timeout_s=1.0)
        first = await data.take(5, timeout_s=1.0)
        assert [p for _, p in first] == payloads[:5]

        await sensor.drop_link()
        async with asyncio.timeout(1.0):
            await dropped.wait()
        assert not client.is_connected
        assert not sensor.is_connected

        # the sensor advertises again: the same client reconnects, subscribes again (CCCDs
        # do not survive an unbonded reconnection) and the stream starts over
        await client.connect()
        assert client.is_connected and client.mtu_size == 247
        assert sensor.connection_count == 2
        while not data.queue.empty():
            data.queue.get_nowait()
        await client.start_notify(DATA, data)
        await client.start_notify(CTRL, acks)
        await start_sensor(client, acks, timeout_s=1.0)
        again = await data.take(5, timeout_s=1.0)
        assert [p for _, p in again] == payloads[:5]
        await client.disconnect()
    assert radio.callback_errors == []


async def test_unresponsive_sensor_start_times_out_with_clear_error(
    radio: VirtualRadio, make_sensor: Callable[..., VirtualSensor]
) -> None:
    async with make_sensor([packet(i) for i in range(10)]) as sensor:
        sensor.set_unresponsive(True)
        client = await connect(radio)
        data, acks = Sink(), Sink()
        await client.start_notify(DATA, data)
        await client.start_notify(CTRL, acks)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with pytest.raises(TimeoutError, match="did not acknowledge the start command"):
            await start_sensor(client, acks, timeout_s=0.3)
        assert loop.time() - t0 < 1.0
        assert [(w.data, w.handled) for w in sensor.writes] == [(START, False)]
        assert data.queue.empty()
        await client.disconnect()


async def test_mtu_too_small_truncates_packets(
    radio: VirtualRadio, make_sensor: Callable[..., VirtualSensor]
) -> None:
    payloads = [packet(i, size=100) for i in range(5)]
    async with make_sensor(payloads) as sensor:
        client = await connect(radio, bumble={"mtu": 23})
        assert client.mtu_size == 23
        data, acks = Sink(), Sink()
        await client.start_notify(DATA, data)
        await client.start_notify(CTRL, acks)
        await start_sensor(client, acks, timeout_s=1.0)
        got = await data.take(5, timeout_s=1.0)
        assert [p for _, p in got] == [p[:20] for p in payloads]
        assert sensor.truncated_count == 5
        await client.disconnect()


async def test_mtu_too_small_raises_when_sensor_refuses_to_truncate(
    radio: VirtualRadio, make_sensor: Callable[..., VirtualSensor]
) -> None:
    async with make_sensor(oversize="raise") as sensor:
        client = await connect(radio, bumble={"mtu": 23})
        data = Sink()
        await client.start_notify(DATA, data)
        await sensor.wait_subscribed(DATA)
        with pytest.raises(PayloadTooLargeError, match="at most 20 bytes"):
            await sensor.notify(DATA, packet(0, size=21))
        task = sensor.stream(DATA, [packet(0, size=20), packet(1, size=64)], 0.0)
        with pytest.raises(PayloadTooLargeError):
            await task
        (_, first), *_ = await data.take(1, timeout_s=1.0)
        assert first == packet(0, size=20)
        assert data.queue.empty()
        await client.disconnect()


async def test_malformed_payloads_arrive_unchanged(
    radio: VirtualRadio, make_sensor: Callable[..., VirtualSensor]
) -> None:
    odd = [b"", b"\x01", b"\xff" * 3, packet(7, size=244), b"\x00\x01\x02"]
    async with make_sensor() as sensor:
        client = await connect(radio)
        data = Sink()
        await client.start_notify(DATA, data)
        await sensor.wait_subscribed(DATA)
        assert await sensor.stream(DATA, odd, 0.001) == len(odd)
        got = await data.take(len(odd), timeout_s=1.0)
        assert [p for _, p in got] == odd
        await client.disconnect()


async def test_callback_exceptions_are_counted_not_lost(
    radio: VirtualRadio, make_sensor: Callable[..., VirtualSensor]
) -> None:
    seen: list[bytes] = []

    def fragile(_char: BleakGATTCharacteristic, data: bytearray) -> None:
        seen.append(bytes(data))
        if len(seen) == 2:
            raise ValueError("decoder bug")

    async with make_sensor() as sensor:
        client = await connect(radio)
        await client.start_notify(DATA, fragile)
        await sensor.wait_subscribed(DATA)
        assert await sensor.stream(DATA, [b"a", b"b", b"c"], 0.001) == 3
        async with asyncio.timeout(1.0):
            while len(seen) < 3:
                await asyncio.sleep(0.005)
        assert seen == [b"a", b"b", b"c"]
        assert [(e.kind, e.address, str(e.exception)) for e in radio.callback_errors] == [
            ("notify", ADDRESS, "decoder bug")
        ]
        await client.disconnect()


async def test_connect_fails_fast_when_device_is_absent(
    radio: VirtualRadio, make_sensor: Callable[..., VirtualSensor]
) -> None:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with pytest.raises(BleakDeviceNotFoundError):
        await BleakClient("F0:00:00:00:00:99", backend=radio.client_backend, timeout=0.3).connect()

    sensor = make_sensor()
    await sensor.start()
    device = await BleakScanner.find_device_by_address(
        ADDRESS, timeout=2.0, backend=radio.scanner_backend
    )
    assert device is not None
    await sensor.stop()  # gone between the scan and the connection
    with pytest.raises(TimeoutError, match=r"timed out after 0\.3 s"):
        await BleakClient(device, backend=radio.client_backend, timeout=0.3).connect()
    assert loop.time() - t0 < 2.0

    # the cancelled attempt left nothing behind: the sensor comes back, connecting works
    async with sensor, BleakClient(device, backend=radio.client_backend, timeout=2.0) as client:
        assert client.is_connected
        assert sensor.connection_count == 1


async def test_connect_by_address_string_with_service_filter(
    radio: VirtualRadio, make_sensor: Callable[..., VirtualSensor]
) -> None:
    async with (
        make_sensor(),
        BleakClient(ADDRESS, services=[SVC], backend=radio.client_backend, timeout=2.0) as client,
    ):
        assert client.is_connected
        assert [s.uuid for s in client.services] == [SVC]
        assert await client.read_gatt_char(INFO) == bytearray(b"fw 1.2.3")
