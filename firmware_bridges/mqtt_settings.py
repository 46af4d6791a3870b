"""MQTT connection settings shared by the kiosk and the hub, and the paho client they build.

paho-mqtt is imported only inside :func:`make_client`, so the settings model can be used
(for config validation) without the MQTT library installed.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class MqttSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    keepalive_s: int = Field(default=15, ge=2, le=3600, description="MQTT keep-alive; a dead link is noticed after ~1.5x")
    reconnect_min_s: float = Field(default=0.5, gt=0, le=60)
    reconnect_max_s: float = Field(default=30.0, gt=0, le=3600)
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = Field(default=None, description="client certificate for mutual TLS")
    tls_key_file: Path | None = None
    max_inflight: int = Field(default=100, ge=1, le=65535, description="QoS 1 messages awaiting PUBACK at once")


def make_client(settings: MqttSettings, client_id: str, *, clean_session: bool = False):
    """A paho 2.x client with a fixed id and a persistent session (QoS 1 survives reconnects)."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean_session,
        protocol=mqtt.MQTTv311,
    )
    if settings.username is not None:
        client.username_pw_set(settings.username, settings.password)
    if settings.tls_ca_file is not None:
        client.tls_set(
            ca_certs=str(settings.tls_ca_file),
            certfile=str(settings.tls_cert_file) if settings.tls_cert_file else None,
            keyfile=str(settings.tls_key_file) if settings.tls_key_file else None,
        )
    client.max_inflight_messages_set(settings.max_inflight)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(settings.reconnect_min_s, settings.reconnect_max_s)
    return client
