"""bumble virtual controllers for tests and simulations, with the fix for the hanging connect.

bumble 0.0.236's ``Controller.on_hci_le_create_connection_cancel_command`` answers SUCCESS
but never sends the *LE Connection Complete* event with status 0x02 (Unknown Connection
Identifier) that Core Spec v5.4 Vol 4 Part E §7.8.13 requires, and leaves
``pending_le_connection`` set. A connect to an absent device therefore never returns and
the adapter refuses every later connect with COMMAND_DISALLOWED (devices.md §9.3, §11 #5).
:class:`CancellableController` clears the pending connection and emits the event, so
``Device.connect(..., timeout=t)`` raises ``bumble.core.TimeoutError`` after ``t``.

Also here: helpers that build a bumble ``Device`` on a ``LocalLink`` (the wiring of
``bumble.testing.test_utils``) or on a TCP HCI transport (devices.md §9.1, §9.2).
"""

from __future__ import annotations

import asyncio
import logging

from bumble import hci
from bumble.controller import Controller
from bumble.device import Device, DeviceConfiguration
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

logger = logging.getLogger(__name__)


class CancellableController(Controller):
    """A bumble ``Controller`` whose LE Create Connection Cancel completes the pending connect."""

    def on_hci_le_create_connection_cancel_command(self, command):  # noqa: D401 - HCI handler
        pending = self.pending_le_connection
        if pending is None:
            # Core Spec §7.8.13: cancel without a pending create connection → Command Disallowed
            return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.COMMAND_DISALLOWED_ERROR)
        self.pending_le_connection = None
        if isinstance(pending, hci.HCI_LE_Extended_Create_Connection_Command):
            interval = pending.connection_interval_mins[0]
            latency = pending.max_latencies[0]
            supervision = pending.supervision_timeouts[0]
        else:
            interval = pending.connection_interval_min
            latency = pending.max_latency
            supervision = pending.supervision_timeout
        event = hci.HCI_LE_Connection_Complete_Event(
            status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
            connection_handle=0,
            role=hci.Role.CENTRAL,
            peer_address_type=pending.peer_address_type,
            peer_address=pending.peer_address,
            connection_interval=interval,
            peripheral_latency=latency,
            supervision_timeout=supervision,
            central_clock_accuracy=0,
        )
        # the Command Complete for the cancel goes first, then the LE Connection Complete
        asyncio.get_running_loop().call_soon(self.send_hci_packet, event)
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)


def local_device(link: LocalLink, name: str, address: str) -> Device:
    """A bumble ``Device`` (host + fixed :class:`CancellableController`) on a ``LocalLink``.

    ``address`` becomes both the controller's public address and the device's (random)
    address, so peers can connect to exactly the address given.
    """
    controller = CancellableController(name, link=link, public_address=address)
    config = DeviceConfiguration(name=name, address=hci.Address(address))
    device = Device(config=config, host=Host(controller, AsyncPipeSink(controller)))
    device.name = name
    return device


def attach_tcp_controller(link: LocalLink, name: str, address: str, transport) -> CancellableController:
    """Layout A of devices.md §9.2: a controller on ``link`` whose HCI side is an opened transport.

    Another process opens ``tcp-client:HOST:PORT`` and runs a bumble ``Device.with_hci``
    host over it (see :func:`tcp_host_device`).
    """
    return CancellableController(
        name, host_source=transport.source, host_sink=transport.sink, link=link, public_address=address
    )


def tcp_host_device(name: str, address: str, transport) -> Device:
    """The agent side of layout A: a bumble host over an opened ``tcp-client`` transport."""
    return Device.with_hci(name, hci.Address(address), transport.source, transport.sink)
