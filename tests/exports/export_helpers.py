"""A hub fed through a real mosquitto by a real kiosk agent, for the export tests; PDF → PNG/text with poppler."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from edge_agent.agent import KioskAgent
from hub.service import HubService
from tests.foundation.helpers import hub_config, kiosk_config, wait_until
from tests.medic.medic_helpers import MEDIC, NORMAL, api_section, auth, exam_from_rules

#: Workers as the kiosk roster knows them (the kiosk copies them into each exam record).
WORKERS = {
    "W00101": {"personnel_number": "W00101", "full_name": "Иванов Пётр Сергеевич", "birth_date": "1979-04-12",
               "sex": "M"},
    "W00102": {"personnel_number": "W00102", "full_name": "Смирнова Ольга Игоревна", "birth_date": "1991-11-30",
               "sex": "F"},
    "W00103": {"personnel_number": "W00103", "full_name": "Кузнецов Ёжин Юрьевич", "birth_date": "1985-01-05",
               "sex": "M"},
}


def exam(worker: str, attempts: list[dict], exam_type: str, finished: datetime) -> dict:
    """An exam decided by the kiosk's real rules, carrying the worker block, consent and device serials."""
    body = exam_from_rules(worker, attempts, finished=finished)
    body["exam_type"] = exam_type
    body["worker"] = WORKERS[worker]
    body["consent"] = {"given_at": (finished - timedelta(days=30)).isoformat(), "text_version": "1"}
    for m in body["measurements"]:
        m["device_serial"] = {"brac_mg_l": "ALC-0042", "temperature_c": "TH-7"}.get(m["field"], "BP-3311")
        m["device_model"] = {"brac_mg_l": "Алкотектор Юпитер", "temperature_c": "sim-thermo"}.get(m["field"],
                                                                                                 "sim-cuff")
    return body


@dataclass
class FedHub:
    hub: HubService
    agent: KioskAgent
    bodies: dict[str, dict] = field(default_factory=dict)  # event id -> body as published
    decided: dict[str, dict] = field(default_factory=dict)  # event id -> medic decision

    @property
    def url(self) -> str:
        return self.hub.url

    def get(self, path: str, token: str = MEDIC, **params) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers=auth(token), params=params, timeout=60)

    def stored(self, event_id: str) -> dict:
        response = self.get(f"/api/v1/exams/{event_id}")
        assert response.status_code == 200, response.text
        return response.json()


def start_fed_hub(tmp_path: Path, broker) -> FedHub:
    hub = HubService(hub_config(tmp_path, broker, **api_section())).start(connect_timeout=10)
    agent = KioskAgent(kiosk_config(tmp_path, broker)).start()
    return FedHub(hub, agent)


def publish(fed: FedHub, body: dict) -> str:
    record = fed.agent.record("exam", body)
    fed.bodies[record.event_id] = body
    wait_until(lambda: fed.get(f"/api/v1/exams/{record.event_id}").status_code == 200,
               message="the exam to reach the hub through mosquitto")
    return record.event_id


#: the test medic's signing PIN (hub/medic_signing.py)
PIN = "482913"


def enrol(fed: FedHub) -> None:
    response = httpx.post(f"{fed.url}/api/v1/medic/signing-key", headers=auth(MEDIC), json={"pin": PIN}, timeout=60)
    assert response.status_code in (200, 201), response.text


def decide(fed: FedHub, event_id: str, decision: str, reason: str | None = None, pin: str | None = PIN) -> dict:
    response = httpx.post(f"{fed.url}/api/v1/medic/exams/{event_id}/decision", headers=auth(MEDIC),
                          json={"decision": decision, "reason": reason, "pin": pin}, timeout=60)
    assert response.status_code == 201, response.text
    fed.decided[event_id] = response.json()
    return fed.decided[event_id]


def feed_standard(fed: FedHub, day: datetime) -> dict[str, str]:
    """Reference.md §1.8 vectors through MQTT: K1 (pre-shift), K5 (pre-trip, confirmed alcohol, decided and
    signed by the medic), K7 (pre-shift, severe BP, still waiting), and one post-shift K1. Returns name -> event id."""
    ids = {
        "k1": publish(fed, exam("W00103", [{"minute": 0, **NORMAL}], "pre_shift", day + timedelta(hours=5))),
        "k5": publish(fed, exam("W00102", [{"minute": 0, **NORMAL, "brac_mg_l": 0.21},
                                           {"minute": 15, "brac_mg_l": 0.19}], "pre_trip", day + timedelta(hours=6))),
        "k7": publish(fed, exam("W00101", [{"minute": 0, **NORMAL, "systolic_mmhg": 184, "diastolic_mmhg": 112}],
                                "pre_shift", day + timedelta(hours=7))),
        "post": publish(fed, exam("W00103", [{"minute": 0, **NORMAL, "pulse_bpm": 81}], "post_shift",
                                  day + timedelta(hours=17))),
    }
    enrol(fed)
    decide(fed, ids["k5"], "not_admitted")  # signed with the medic's key
    return ids


def day_start() -> datetime:
    """Yesterday 00:00 UTC: the exams of the feed fall inside one day well before now."""
    now = datetime.now(timezone.utc)
    return datetime(now.year, now.month, now.day, tzinfo=timezone.utc) - timedelta(days=1)


def pdf_to_png(pdf: bytes, directory: Path, stem: str) -> list[Path]:
    """Every page of ``pdf`` as a PNG (pdftoppm, poppler-utils), kept as a test artifact."""
    if shutil.which("pdftoppm") is None:
        raise AssertionError("pdftoppm is not installed: apt-get install -y poppler-utils (tests/run.sh does)")
    directory.mkdir(parents=True, exist_ok=True)
    source = directory / f"{stem}.pdf"
    source.write_bytes(pdf)
    for old in directory.glob(f"{stem}-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(source), str(directory / stem)], check=True, timeout=120)
    pages = sorted(directory.glob(f"{stem}-*.png"))
    print(f"PDF pages of {stem}: {', '.join(str(p) for p in pages)}")
    return pages


def pdf_text(pdf_path: Path) -> str:
    """The text of a PDF as poppler extracts it (proves the glyphs map back to Cyrillic)."""
    return subprocess.run(["pdftotext", "-layout", str(pdf_path), "-"], check=True, capture_output=True,
                          timeout=120).stdout.decode("utf-8")


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the PNG header."""
    head = path.read_bytes()[16:24]
    return int.from_bytes(head[:4], "big"), int.from_bytes(head[4:], "big")
