"""Builders for configs and records used by the foundation tests."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from edge_agent.config import KioskConfig
from hub.config import HubConfig


def hub_config(tmp_path: Path, broker, **api) -> HubConfig:
    return HubConfig.model_validate({
        "name": "test-hub",
        "mqtt": {"host": broker.host, "port": broker.port, "keepalive_s": 5, "reconnect_min_s": 0.2,
                 "reconnect_max_s": 2},
        "storage": {"path": str(tmp_path / "hub" / "hub.db")},
        "api": {"port": 0, **api},
    })


def kiosk_config(tmp_path: Path, broker, kiosk: str = "kiosk-01", **outbox) -> KioskConfig:
    return KioskConfig.model_validate({
        "identity": {"site": "plant-1", "kiosk": kiosk, "signing_key": str(tmp_path / kiosk / "signing-key.pem")},
        "mqtt": {"host": broker.host, "port": broker.port, "keepalive_s": 5, "reconnect_min_s": 0.2,
                 "reconnect_max_s": 2},
        "journal": {"path": str(tmp_path / kiosk / "journal.db")},
        "outbox": {"resend_after_s": 5, **outbox},
    })


def exam_body(worker: str = "W00001", outcome: str = "admitted") -> dict:
    now = datetime.now(timezone.utc)
    fired = [] if outcome == "admitted" else [{"rule": "alcohol.positive", "source": "КоАП 12.8", "value": 0.21}]
    return {
        "exam_id": str(uuid.uuid4()),
        "worker_id": worker,
        "exam_type": "pre_shift",
        "started_at": (now - timedelta(seconds=60)).isoformat(),
        "finished_at": now.isoformat(),
        "answers": {"slept_enough": True, "feels_unwell": False},
        "measurements": [
            {"field": "systolic_mmhg", "value": 128, "taken_at": now.isoformat(), "device_model": "sim-cuff"},
            {"field": "diastolic_mmhg", "value": 82, "taken_at": now.isoformat(), "device_model": "sim-cuff"},
            {"field": "pulse_bpm", "value": 72, "taken_at": now.isoformat(), "device_model": "sim-cuff"},
            {"field": "temperature_c", "value": 36.6, "taken_at": now.isoformat(), "device_model": "sim-thermo"},
            {"field": "brac_mg_l", "value": 0.0 if outcome == "admitted" else 0.21, "taken_at": now.isoformat(),
             "device_model": "sim-alco"},
        ],
        "outcome": outcome,
        "fired": fired,
        "rule_set_version": "test-1",
    }


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0, interval: float = 0.05,
               message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


def write_toml(path: Path, config) -> Path:
    """Write a pydantic config model as a TOML file (for subprocess hubs and kiosks)."""
    import tomli_w

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tomli_w.dumps(config.model_dump(mode="json", exclude_none=True)).encode())
    return path


def _certificate(subject: str, issuer_key, issuer_name, key, ca: bool, san: bool = False):
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(issuer_name or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san:
        import ipaddress
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def write_test_pki(directory: Path) -> dict[str, Path]:
    """A throwaway CA and a server certificate for localhost / 127.0.0.1 (TLS tests of the broker)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("ohs-test-ca", ca_key, None, ca_key, ca=True)
    server = _certificate("localhost", ca_key, ca.subject, server_key, ca=False, san=True)
    paths = {"ca": directory / "ca.crt", "cert": directory / "server.crt", "key": directory / "server.key"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(server_key.private_bytes(serialization.Encoding.PEM,
                                                      serialization.PrivateFormat.TraditionalOpenSSL,
                                                      serialization.NoEncryption()))
    return paths
