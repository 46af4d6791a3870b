"""Device supervision for the kiosk (issue 4, "Supervision in edge_agent").

``DeviceSupervisor`` opens the devices declared in the kiosk config (``[[devices]]`` →
:class:`DeviceDeclaration`), keeps them connected, reports each one's health with an
actionable Russian/English message, serves on-demand measurements, de-bounced badge reads
and streaming environmental readings. Helpers turn environmental readings into telemetry
and alarm bodies of the wire contract. Integrator docs: ``docs/integrator-devices.md`` §6.
"""

from edge_agent.devices.config import DeviceDeclaration
from edge_agent.devices.environment import EnvironmentLimits, environment_alarm, environment_to_telemetry
from edge_agent.devices.supervisor import DeviceSupervisor

__all__ = [
    "DeviceDeclaration",
    "DeviceSupervisor",
    "EnvironmentLimits",
    "environment_alarm",
    "environment_to_telemetry",
]
