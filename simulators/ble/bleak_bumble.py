"""A project-local bleak 3.x backend on bumble — for tests and simulations only.

Production code never imports this module: the kiosk's drivers take ``backend=`` for
``BleakScanner`` / ``BleakClient`` and default to bleak's platform backend (BlueZ on the
Pi). Tests pass :class:`BumbleScanner` / :class:`BumbleClient` so the kiosk's real bleak
code path runs against bumble GATT servers on virtual controllers (devices.md §10).

The backend contract is bleak 3.1.0 ``bleak/backends/{client,scanner}.py``
(devices.md §10.1). The "adapter" is a bumble :class:`~bumble.device.Device` registered
with :func:`use_adapter` under a name (``"hci0"`` by default); clients and scanners pick it
with ``bluez={"adapter": name}`` — the same argument the BlueZ backend takes — or with an
explicit ``bumble_device=`` keyword.

Faithful to the hardware where it matters for the kiosk:

* one pending LE connect per controller: connects are serialised by a per-adapter lock
  (bumble's controller answers COMMAND_DISALLOWED otherwise, §9.3);
* a connect to an absent device raises ``asyncio.TimeoutError`` after ``timeout``
  (needs :class:`simulators.ble.controller.CancellableController`);
* properties are bleak's lower-case names via ``bleak.assigned_numbers`` (§1.7);
* handles, not UUIDs, address characteristics (two characteristics may share a UUID);
* a peer-initiated disconnect calls bleak's ``disconnected_callback``.

Fault hooks for tests: :func:`stall_scanner` makes an adapter's scanner go silent (as a
wedged BlueZ discovery does) until the scanner is stopped and started again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Optional

from bleak.assigned_numbers import gatt_char_props_to_strs
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError
from bleak.uuids import normalize_uuid_str
from bumble import core, hci
from bumble.core import AdvertisingData
from bumble.device import Advertisement, Connection, Device, Peer

logger = logging.getLogger(__name__)

DEFAULT_ADAPTER = "hci0"


@dataclass
class _Adapter:
    device: Device
    connect_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    scanners: set["BumbleScanner"] = field(default_factory=set)
    scanning: bool = False
    stalled: bool = False
    power_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_ADAPTERS: dict[str, _Adapter] = {}


def use_adapter(device: Device, name: str = DEFAULT_ADAPTER) -> None:
    """Register the bumble ``Device`` that plays the local adapter ``name`` (call inside the loop)."""
    _ADAPTERS[name] = _Adapter(device)


def release_adapter(name: str = DEFAULT_ADAPTER) -> None:
    _ADAPTERS.pop(name, None)


def stall_scanner(name: str = DEFAULT_ADAPTER, stalled: bool = True) -> None:
    """Fault injection: the adapter's scanner stops reporting until it is restarted."""
    _adapter(name).stalled = stalled


def _adapter(name: str) -> _Adapter:
    try:
        return _ADAPTERS[name]
    except KeyError:
        raise BleakError(
            f"bumble backend: no adapter {name!r} registered; call simulators.ble.bleak_bumble.use_adapter()"
        ) from None


async def _ensure_powered(ad: _Adapter) -> None:
    async with ad.power_lock:
        if not ad.device.powered_on:
            await ad.device.power_on()


def _we_are_cancelled() -> bool:
    """True if the *current task* is being cancelled (not just an inner bumble future)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _adapter_name(bluez: dict | None) -> str:
    return (bluez or {}).get("adapter") or DEFAULT_ADAPTER


def to_bleak_uuid(uuid: core.UUID) -> str:
    """bumble UUID → bleak's normalised 128-bit lower-case string."""
    return normalize_uuid_str(uuid.to_hex_str("-"))


def advertisement_to_bleak(adv: Advertisement) -> AdvertisementData:
    data = adv.data
    uuids: list[str] = []
    for ad_type in (
        AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
        AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
        AdvertisingData.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
        AdvertisingData.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
        AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
        AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
    ):
        for lst in data.get_all(ad_type):
            uuids += [to_bleak_uuid(u) for u in lst]
    service_data: dict[str, bytes] = {}
    for ad_type in (
        AdvertisingData.SERVICE_DATA_16_BIT_UUID,
        AdvertisingData.SERVICE_DATA_32_BIT_UUID,
        AdvertisingData.SERVICE_DATA_128_BIT_UUID,
    ):
        for uuid, payload in data.get_all(ad_type):
            service_data[to_bleak_uuid(uuid)] = bytes(payload)
    manufacturer = {cid: bytes(payload) for cid, payload in data.get_all(AdvertisingData.MANUFACTURER_SPECIFIC_DATA)}
    name = data.get(AdvertisingData.COMPLETE_LOCAL_NAME) or data.get(AdvertisingData.SHORTENED_LOCAL_NAME)
    tx = data.get(AdvertisingData.TX_POWER_LEVEL)
    return AdvertisementData(
        local_name=name,
        manufacturer_data=manufacturer,
        service_data=service_data,
        service_uuids=uuids,
        tx_power=tx,
        rssi=adv.rssi,
        platform_data=(adv,),
    )


class BumbleScanner(BaseBleakScanner):
    """bleak scanner backend over a registered bumble adapter."""

    def __init__(
        self,
        detection_callback: Optional[AdvertisementDataCallback],
        service_uuids: Optional[list[str]],
        scanning_mode: str = "active",
        *,
        bluez: dict | None = None,
        cb: dict | None = None,
        bumble_device: Device | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._name = _adapter_name(bluez)
        if bumble_device is not None and self._name not in _ADAPTERS:
            use_adapter(bumble_device, self._name)
        self._active = scanning_mode == "active"
        self._running = False

    async def start(self) -> None:
        ad = _adapter(self._name)
        await _ensure_powered(ad)
        self.seen_devices = {}
        ad.stalled = False  # restarting a wedged scanner is what un-wedges it
        ad.scanners.add(self)
        self._running = True
        if not ad.scanning:
            ad.device.on("advertisement", _dispatch_factory(self._name))
            await ad.device.start_scanning(active=self._active, filter_duplicates=False)
            ad.scanning = True

    async def stop(self) -> None:
        self._running = False
        ad = _ADAPTERS.get(self._name)
        if ad is None:
            return
        ad.scanners.discard(self)
        if not ad.scanners and ad.scanning:
            ad.scanning = False
            ad.device.remove_all_listeners("advertisement")
            try:
                await ad.device.stop_scanning()
            except Exception as exc:  # adapter already gone / powered off
                logger.debug("stop_scanning: %s", exc)

    def _on_advertisement(self, adv: Advertisement) -> None:
        if not self._running:
            return
        data = advertisement_to_bleak(adv)
        if not self.is_allowed_uuid(data.service_uuids):
            return
        address = str(adv.address).split("/")[0]
        device = self.create_or_update_device(address, address, data.local_name, adv.address, data)
        self.call_detection_callbacks(device, data)


def _dispatch_factory(name: str):
    def dispatch(adv: Advertisement) -> None:
        ad = _ADAPTERS.get(name)
        if ad is None or ad.stalled:
            return
        for scanner in list(ad.scanners):
            scanner._on_advertisement(adv)

    return dispatch


class BumbleClient(BaseBleakClient):
    """bleak client backend over a registered bumble adapter."""

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback=None,
        timeout: float = 10.0,
        services: set[str] | None = None,
        bluez: dict | None = None,
        winrt: dict | None = None,
        bumble_device: Device | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        self._name = _adapter_name(bluez)
        if bumble_device is not None and self._name not in _ADAPTERS:
            use_adapter(bumble_device, self._name)
        details = getattr(address_or_ble_device, "details", None)
        if isinstance(details, hci.Address):
            self._peer_address = details
        else:
            self._peer_address = hci.Address(str(self.address))
        self._device_name = getattr(address_or_ble_device, "name", None)
        self._services_filter = services
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._notify: dict[int, tuple[Any, Any]] = {}

    # --- properties
    @property
    def name(self) -> str:
        return self._device_name or str(self.address).replace(":", "-")

    @property
    def mtu_size(self) -> int:
        return self._connection.att_mtu if self._connection is not None else 23

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    # --- connection
    async def connect(self, pair: bool, **kwargs: Any) -> None:
        ad = _adapter(self._name)
        await _ensure_powered(ad)
        timeout = kwargs.get("timeout", self._timeout)
        async with ad.connect_lock:  # one pending LE connect per controller (§9.3)
            try:
                connection = await ad.device.connect(self._peer_address, timeout=timeout)
            except core.TimeoutError as exc:
                raise asyncio.TimeoutError(f"connect to {self.address} timed out after {timeout} s") from exc
            except (core.ConnectionError, hci.HCI_Error, core.InvalidStateError) as exc:
                raise BleakError(f"connect to {self.address} failed: {exc}") from exc
        self._connection = connection
        connection.on("disconnection", self._on_disconnection)
        try:
            self._peer = Peer(connection)
            await asyncio.wait_for(self._discover(), timeout)
        except asyncio.CancelledError as exc:
            await self._force_disconnect()
            if _we_are_cancelled():
                raise
            # bumble cancels in-flight ATT requests when the link drops
            raise BleakError(f"{self.address} disconnected during service discovery") from exc
        except asyncio.TimeoutError:
            await self._force_disconnect()
            raise
        except Exception as exc:
            await self._force_disconnect()
            raise BleakError(f"service discovery on {self.address} failed: {exc}") from exc
        if pair:
            logger.info("bumble backend: pairing is not simulated; ignoring pair=True")

    async def _discover(self) -> None:
        assert self._peer is not None
        peer = self._peer
        await peer.discover_services()
        collection = BleakGATTServiceCollection()
        for svc in peer.services:
            suuid = to_bleak_uuid(svc.uuid)
            if self._services_filter and suuid not in self._services_filter:
                continue
            await peer.discover_characteristics(service=svc)
            bsvc = BleakGATTService(svc, svc.handle, suuid)
            collection.add_service(bsvc)
            for ch in svc.characteristics:
                await peer.discover_descriptors(characteristic=ch)
                props = sorted(gatt_char_props_to_strs(int(ch.properties)))
                bch = BleakGATTCharacteristic(ch, ch.handle, to_bleak_uuid(ch.uuid), props, lambda: self.mtu_size - 3, bsvc)
                collection.add_characteristic(bch)
                for d in ch.descriptors:
                    collection.add_descriptor(BleakGATTDescriptor(d, d.handle, to_bleak_uuid(d.type), bch))
        self.services = collection

    def _on_disconnection(self, reason: int) -> None:
        was = self._connection is not None
        self._connection = None
        self._peer = None
        self._notify.clear()
        if was and self._disconnected_callback is not None:
            try:
                self._disconnected_callback()
            except Exception:  # a user callback must not break the stack
                logger.exception("disconnected_callback raised")

    async def _force_disconnect(self) -> None:
        conn = self._connection
        self._connection = None
        self._peer = None
        if conn is not None:
            try:
                await conn.disconnect()
            except Exception as exc:
                logger.debug("disconnect: %s", exc)

    async def disconnect(self) -> None:
        conn = self._connection
        if conn is None:
            return
        # a disconnect we asked for is not "unsolicited": do not fire the callback
        conn.remove_listener("disconnection", self._on_disconnection)
        self._connection = None
        self._peer = None
        self._notify.clear()
        try:
            await conn.disconnect()
        except Exception as exc:
            logger.debug("disconnect: %s", exc)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("pairing is not simulated by the bumble backend")

    async def unpair(self) -> None:
        raise NotImplementedError("pairing is not simulated by the bumble backend")

    # --- I/O
    def _require(self) -> Peer:
        if self._peer is None:
            raise BleakError("Not connected")
        return self._peer

    async def _guard(self, coro):
        try:
            return await coro
        except asyncio.CancelledError as exc:
            if _we_are_cancelled():
                raise
            raise BleakError(f"{self.address}: link dropped during the request") from exc
        except (core.ProtocolError, core.ConnectionError, hci.HCI_Error, core.InvalidStateError) as exc:
            raise BleakError(str(exc)) from exc
        except core.TimeoutError as exc:
            raise asyncio.TimeoutError(str(exc)) from exc

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any) -> bytearray:
        peer = self._require()
        return bytearray(await self._guard(peer.read_value(characteristic.obj)))

    async def read_gatt_descriptor(self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any) -> bytearray:
        peer = self._require()
        return bytearray(await self._guard(peer.read_value(descriptor.obj)))

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data, response: bool) -> None:
        peer = self._require()
        await self._guard(peer.write_value(characteristic.obj, bytes(data), with_response=response))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data) -> None:
        peer = self._require()
        await self._guard(peer.write_value(descriptor.obj, bytes(data), with_response=True))

    async def start_notify(self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any) -> None:
        peer = self._require()

        def on_value(value: bytes) -> None:
            callback(bytearray(value))

        # prefer notify when both are offered (bleak's cross-platform rule); indicate otherwise
        await self._guard(peer.subscribe(characteristic.obj, on_value, prefer_notify=True))
        self._notify[characteristic.handle] = (characteristic.obj, on_value)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        peer = self._require()
        entry = self._notify.pop(characteristic.handle, None)
        if entry is not None:
            await self._guard(peer.unsubscribe(entry[0], entry[1]))
