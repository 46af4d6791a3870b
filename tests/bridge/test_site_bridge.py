"""A site broker bridged to the central broker (docs/deploy.md): two real mosquitto processes.

The kiosk (real ``KioskAgent``) talks only to the SITE broker; the hub (real ``HubService``) only to
the CENTRAL broker; the bridge of ``configs/deploy/mosquitto-site-bridge.conf`` joins them, over TLS
with a password and the ACL, through a relay that stands for the site's uplink (``bridge_helpers``).

(a) normal flow: exams reach the hub, acks come back through the bridge, the outbox drains; config
    and cmd messages published at the central broker reach a kiosk on the site broker;
(b) the uplink is cut for OUTAGE_S seconds (an hour of a gate, compressed) while the kiosk keeps
    making exams; the central broker and the hub stay up; then the uplink returns;
(c) the central broker is stopped for OUTAGE_S seconds, and meanwhile the site broker is restarted
    twice (SIGTERM, then SIGKILL), persistence on; then the central broker returns;
(d) the central broker is down behind something that accepts TCP and closes it: mosquitto 2.0.11's
    TLS bridge then hangs the site broker, and the watchdog of the deploy files recovers it;
and the deploy files themselves, whole, start and carry a record.

Each scenario counts, by event id, the exams of the kiosk's journal against the hub's ``exams``
table (``tests.faults.harness.tally``) and writes its figures to ``artifacts/bridge/<name>.json``
before asserting. Compressed time as in the fault suite: the kiosk resends after 3 s (30 s in
production), the bridge reconnects after 1-2 s (2-60 s in the deploy file).
"""

from __future__ import annotations

import shutil
import signal
import statistics
import subprocess
import time
from datetime import datetime

import httpx
import pytest

from firmware_bridges.mqtt_settings import MqttSettings, make_client
from ohs_demo.broker import free_port, wait_listening
from tests.bridge.bridge_helpers import (
    ACL,
    BRIDGE_STATE_TOPIC,
    BRIDGE_USER,
    CENTRAL_CONF,
    DEPLOY,
    SITE,
    SITE_BRIDGE_CONF,
    conf_value,
    deploy_conf_for_test,
    probe,
    write_acl,
    write_artifact,
    write_passwords,
    write_pki,
    write_probe_options,
)
from tests.bridge.conftest import PASSWORDS, SYS_BYTES, SYS_COUNT, SYS_DROPPED, restart_broker
from tests.faults.harness import (
    FaultWindow,
    Producer,
    assert_exactly_once,
    eventually,
    exams_within,
    hub_exam_count,
    hub_exams,
    journal_outbox,
    journal_rows,
    say,
    tally,
    utc_now,
)
from tests.foundation.helpers import wait_until

KIOSK = "kiosk-01"
OUTAGE_S = 20.0
HANDSHAKE_EOF_S = 12.0
EXAM_EVERY_S = 0.05
TELEMETRY_EVERY_S = 0.5


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _health(plant) -> dict:
    try:
        return httpx.get(f"{plant.hub.url}/api/v1/health", timeout=5).json()
    except httpx.HTTPError as error:
        return {"status": f"unreachable: {error}", "problems": [], "mqtt_connected": None}


def _latencies(plant, config) -> dict:
    created = {row["event_id"]: _ts(row["created_at"]) for row in journal_rows(config.journal.path, "exam")}
    lat = sorted(_ts(row["received_at"]) - created[row["event_id"]]
                 for row in hub_exams(plant.hub_db, KIOSK) if row["event_id"] in created)
    if not lat:
        return {}
    return {"latency_median_s": round(statistics.median(lat), 3), "latency_max_s": round(lat[-1], 3)}


def _counts(plant, agent) -> dict:
    config = agent.config
    result = tally(plant.hub_db, KIOSK, journal_rows(config.journal.path, "exam"),
                   sent_telemetry=journal_rows(config.journal.path, "telemetry"),
                   outbox_depth=journal_outbox(config.journal.path))
    hub = dict(plant.hub.ingest.counters)
    return {"result": result, "counts": {
        **result.as_dict(),
        "kiosk_published": agent.uplink.counters["published"], "kiosk_resent": agent.uplink.counters["resent"],
        "kiosk_connects": agent.uplink.counters["connects"],
        "hub_received": hub.get("received", 0), "hub_duplicates": hub.get("duplicates", 0),
        "hub_acks_sent": hub.get("acks_sent", 0), "hub_mqtt_connects": hub.get("connects", 0),
        "site_dropped_total": plant.site_watch.number(SYS_DROPPED),
    }}


def _deploy_figures(plant) -> dict:
    return {"deploy_max_queued_messages": int(conf_value("max_queued_messages")),
            "deploy_max_queued_bytes": int(conf_value("max_queued_bytes")),
            "substituted": plant.bridge_info["substituted"]}


def _start(plant):
    agent = plant.kiosk(KIOSK)
    assert agent.uplink.wait_connected(15), "the kiosk did not connect to the site broker"
    wait_until(plant.bridge_up_at_central, timeout=15, message="the bridge to report '1' at the central broker")
    return agent


def _finish(plant, agent, producer, returned_at: float) -> tuple[dict, bool, float]:
    """Stop making exams, let the outbox drain; returns (produce counts, drained, seconds from the return)."""
    made = producer.stop()
    drained = eventually(lambda: agent.journal.outbox_depth() == 0, timeout=60, interval=0.1)
    return {"exams_made": made.exams, "exam_errors": made.exam_errors,
            "telemetry_made": made.telemetry}, drained, round(time.monotonic() - returned_at, 1)


def test_a_normal_flow_through_the_bridge(plant, artifacts_dir):
    started = time.monotonic()
    agent = _start(plant)
    # downlink through the bridge: what the hub's user publishes at the CENTRAL broker on config and cmd
    # reaches a kiosk's client on the SITE broker (kiosk-02: a bare client, so the agent's handlers stay out of it)
    got: list[str] = []
    listener = make_client(MqttSettings(host=plant.site.host, port=plant.site.port,
                                        **plant.mqtt_login(f"{SITE}/kiosk-02")), "test-kiosk-02", clean_session=True)
    listener.on_connect = lambda c, *_: c.subscribe([(f"ohs/v1/{SITE}/kiosk-02/config", 1),
                                                     (f"ohs/v1/{SITE}/kiosk-02/cmd", 1)])
    listener.on_message = lambda c, u, m: got.append(m.topic.rsplit("/", 1)[-1])
    listener.connect(plant.site.host, plant.site.port)
    listener.loop_start()
    producer = Producer(agent, interval=EXAM_EVERY_S, telemetry_every=TELEMETRY_EVERY_S).start()
    try:
        time.sleep(4.0)
        hub_client = plant.hub.ingest.client
        for kind in ("config", "cmd"):
            hub_client.publish(f"ohs/v1/{SITE}/kiosk-02/{kind}", b'{"test": "downlink"}', qos=1)
        downlink = eventually(lambda: sorted(got) == ["cmd", "config"], timeout=10, interval=0.1)
    finally:
        listener.disconnect()
        listener.loop_stop()
    stopped = time.monotonic()
    made, drained, drain_s = _finish(plant, agent, producer, stopped)
    counts = _counts(plant, agent)
    status = plant.hub.store.query("SELECT state FROM kiosks WHERE site = ? AND kiosk = ?", (SITE, KIOSK))
    health = _health(plant)
    figures = {**counts["counts"], **made, **_latencies(plant, agent.config), "drain_after_last_exam_s": drain_s,
               "downlink_received": sorted(got), "hub_kiosk_state": status[0]["state"] if status else None,
               "health": health["status"], "test_s": round(time.monotonic() - started, 1), **_deploy_figures(plant)}
    write_artifact(artifacts_dir, "a_normal_flow", figures)
    say(f"bridge (a): {figures['sent']} exams sent, {figures['stored']} stored, {figures['lost']} lost, "
        f"{figures['duplicated']} duplicated; latency median {figures.get('latency_median_s')} s")

    assert drained, f"{agent.journal.outbox_depth()} records still in the outbox: acks did not come back"
    assert_exactly_once(counts["result"])
    assert figures["sent"] >= 40 and made["exam_errors"] == 0
    assert downlink, f"config/cmd published at the central broker did not reach the site broker: {got}"
    assert figures["hub_kiosk_state"] == "online", "the kiosk's retained status did not cross the bridge"
    assert health["status"] == "ok", health


def test_b_uplink_lost_then_back_nothing_lost_nothing_doubled(plant, artifacts_dir):
    started = time.monotonic()
    agent = _start(plant)
    producer = Producer(agent, interval=EXAM_EVERY_S, telemetry_every=TELEMETRY_EVERY_S).start()
    time.sleep(2.0)
    wait_until(lambda: agent.journal.outbox_depth() < 20, timeout=15, message="the first exams acked")

    plant.relay.cut()
    cut_at = time.monotonic()
    window = FaultWindow("uplink cut", utc_now())
    plant.site_watch.reset_peak(SYS_COUNT)
    plant.site_watch.reset_peak(SYS_BYTES)
    bridge_down = eventually(lambda: plant.central_watch.value(BRIDGE_STATE_TOPIC) == "0", timeout=10, interval=0.1)
    time.sleep(2.0)  # anything already past the relay lands now
    stored_early = hub_exam_count(plant.hub_db, KIOSK)
    health_during = []
    while time.monotonic() - cut_at < OUTAGE_S:
        health_during.append(_health(plant))
        time.sleep(1.0)
    stored_at_return = hub_exam_count(plant.hub_db, KIOSK)
    depth_at_return = agent.journal.outbox_depth()
    site_peak = plant.site_watch.peak(SYS_COUNT)
    site_peak_bytes = plant.site_watch.peak(SYS_BYTES)
    plant.relay.restore()
    window.end = utc_now()
    returned = time.monotonic()
    bridge_back = eventually(plant.bridge_up_at_central, timeout=15, interval=0.1)
    bridge_back_s = round(time.monotonic() - returned, 1)
    time.sleep(2.0)  # live exams after the return
    made, drained, drain_s = _finish(plant, agent, producer, returned)
    counts = _counts(plant, agent)
    exams = journal_rows(agent.config.journal.path, "exam")
    during = exams_within(exams, window)
    states = plant.central_watch.states(BRIDGE_STATE_TOPIC)
    figures = {**counts["counts"], **made, "outage_s": round(window.seconds, 1), "exams_made_during_outage": during,
               "outbox_depth_at_return": depth_at_return, "hub_stored_during_outage": stored_at_return - stored_early,
               "site_store_messages_peak": site_peak, "site_store_bytes_peak": site_peak_bytes,
               "bridge_state_history_at_central": states, "bridge_reconnect_s": bridge_back_s,
               "drain_after_return_s": drain_s,
               "hub_mqtt_connected_during_outage": sorted({h.get("mqtt_connected") for h in health_during}, key=str),
               "test_s": round(time.monotonic() - started, 1), **_deploy_figures(plant)}
    write_artifact(artifacts_dir, "b_uplink_cut", figures)
    say(f"bridge (b): uplink cut {figures['outage_s']} s, {during} exams made meanwhile; {figures['sent']} sent, "
        f"{figures['stored']} stored, {figures['lost']} lost, {figures['duplicated']} duplicated; "
        f"{figures['kiosk_resent']} resends, {figures['hub_duplicates']} duplicates discarded at the hub; "
        f"site broker held up to {site_peak} messages; outbox drained {drain_s} s after the return")

    assert bridge_down, "the central broker never saw the bridge go down (its will '0')"
    assert bridge_back, "the bridge did not come back after the uplink returned"
    assert drained, f"{agent.journal.outbox_depth()} records still in the outbox 60 s after the uplink returned"
    assert_exactly_once(counts["result"])
    assert made["exam_errors"] == 0
    assert during >= OUTAGE_S / EXAM_EVERY_S * 0.5, f"only {during} exams made during the outage"
    assert depth_at_return >= during, "records made during the outage left the outbox without the hub"
    assert stored_at_return == stored_early, "exams reached the hub while the uplink was cut: the cut is not a cut"
    assert all(h.get("mqtt_connected") for h in health_during), "the hub lost the central broker (it should not)"
    assert not plant.site_watch.number(SYS_DROPPED), "the site broker dropped messages: the queue was too small"


@pytest.mark.slow  # a second outage variant (~26 s); the default run keeps the hour-long cut of test_b
def test_c_site_broker_restarts_during_the_outage(plant, artifacts_dir):
    started = time.monotonic()
    agent = _start(plant)
    producer = Producer(agent, interval=EXAM_EVERY_S, telemetry_every=TELEMETRY_EVERY_S).start()
    time.sleep(2.0)
    wait_until(lambda: agent.journal.outbox_depth() < 20, timeout=15, message="the first exams acked")

    plant.central.stop(signal.SIGTERM)
    plant.relay.cut()  # a stopped broker refuses connections; the relay must not accept them for it (see test_d)
    down_at = time.monotonic()
    window = FaultWindow("central broker down", utc_now())
    degraded = eventually(lambda: _health(plant)["status"] == "degraded", timeout=10, interval=0.2)
    health_during = _health(plant)
    restarts = []
    for sig, at in ((signal.SIGTERM, OUTAGE_S * 0.35), (signal.SIGKILL, OUTAGE_S * 0.7)):
        time.sleep(max(0.0, down_at + at - time.monotonic()))
        restarts.append({"signal": sig.name, "at": utc_now().timestamp(),
                         "site_store_messages_before": plant.site_watch.number(SYS_COUNT),
                         "kiosk_outbox_depth": agent.journal.outbox_depth()})
        t0 = time.monotonic()
        restart_broker(plant.site, sig)
        restarts[-1]["site_broker_down_s"] = round(time.monotonic() - t0, 2)
        say(f"site broker {sig.name} and restarted; the kiosk had {restarts[-1]['kiosk_outbox_depth']} records waiting")
    time.sleep(max(0.0, down_at + OUTAGE_S - time.monotonic()))
    depth_at_return = agent.journal.outbox_depth()
    restart_broker(plant.central, signal.SIGTERM)  # stop() is a no-op: it is already down
    plant.relay.restore()
    window.end = utc_now()
    returned = time.monotonic()
    bridge_back = eventually(plant.bridge_up_at_central, timeout=20, interval=0.1)
    bridge_back_s = round(time.monotonic() - returned, 1)
    hub_back = eventually(lambda: plant.hub.ingest.connected, timeout=20, interval=0.1)
    time.sleep(2.0)  # live exams after the return
    made, drained, drain_s = _finish(plant, agent, producer, returned)
    health_after = _health(plant)
    counts = _counts(plant, agent)
    exams = journal_rows(agent.config.journal.path, "exam")
    during = exams_within(exams, window)
    # Which copy reached the hub: after each reconnection to the site broker the kiosk re-publishes what
    # waits as backlog (historical = true). An exam made before a site-broker restart and stored with
    # historical = false was therefore delivered from the copy the site broker held across the restart(s).
    stored = {row["event_id"]: row for row in hub_exams(plant.hub_db, KIOSK)}
    created = {row["event_id"]: _ts(row["created_at"]) for row in exams}
    bounds = [window.start.timestamp()] + [r["at"] for r in restarts]
    for i, restart in enumerate(restarts):
        made_here = [e for e, at in created.items() if bounds[i] <= at < bounds[i + 1]]
        live = [e for e in made_here if e in stored and not stored[e]["historical"]]
        ages = [restart["at"] - created[e] for e in made_here if e not in set(live)]
        restart["exams_made_in_the_outage_before_it"] = len(made_here)
        restart["of_them_delivered_from_the_site_broker_queue"] = len(live)
        restart["oldest_of_the_others_s"] = round(max(ages), 2) if ages else None
        restart["survived"] = [r["signal"] for r in restarts[i:]]
    figures = {**counts["counts"], **made, "outage_s": round(window.seconds, 1), "exams_made_during_outage": during,
               "outbox_depth_at_return": depth_at_return, "site_broker_restarts": restarts,
               "health_during_outage": {"status": health_during["status"],
                                        "problems": [p["code"] for p in health_during["problems"]]},
               "health_after": health_after["status"], "bridge_reconnect_s": bridge_back_s,
               "drain_after_return_s": drain_s, "test_s": round(time.monotonic() - started, 1),
               **_deploy_figures(plant)}
    write_artifact(artifacts_dir, "c_site_broker_restarts", figures)
    say(f"bridge (c): central down {figures['outage_s']} s, site broker restarted twice, {during} exams made "
        f"meanwhile; {figures['sent']} sent, {figures['stored']} stored, {figures['lost']} lost, "
        f"{figures['duplicated']} duplicated; outbox drained {drain_s} s after the return")

    assert bridge_back and hub_back, "the bridge or the hub did not reconnect to the restarted central broker"
    assert drained, f"{agent.journal.outbox_depth()} records still in the outbox 60 s after the central broker returned"
    assert_exactly_once(counts["result"])
    assert made["exam_errors"] == 0
    assert during >= OUTAGE_S / EXAM_EVERY_S * 0.5, f"only {during} exams made during the outage"
    assert degraded and "mqtt_disconnected" in figures["health_during_outage"]["problems"], health_during
    assert health_after["status"] == "ok", health_after
    # persistence on: what the site broker held came back after the graceful restart (SIGTERM saves it all), and
    # was held across the SIGKILL too (it was in the last autosave). Exams made in the last moments before the
    # restart may not have reached the broker yet: those went as backlog. After SIGKILL, what came after the last
    # autosave is lost from the broker (autosave_interval 1 s here, 10 s in the deploy file); how much that is
    # depends on when the kiosk published, so that count is reported, not asserted: the journal covers it.
    oldest = restarts[0]["oldest_of_the_others_s"]
    assert oldest is None or oldest < 0.5, (
        f"an exam made {oldest} s before the SIGTERM restart did not come from the site broker's persisted queue: "
        f"{restarts[0]}")

@pytest.mark.slow  # the watchdog soak (~20 s); run with -m slow
def test_d_bridge_handshakes_cut_by_the_remote_hang_and_the_watchdog_recovers(plant, artifacts_dir, tmp_path):
    """The central broker is down behind something that accepts TCP and closes it (a load balancer or TCP
    proxy with no backend): the bridge's TLS handshakes end in EOF for HANDSHAKE_EOF_S seconds. Debian 12's
    mosquitto 2.0.11 then stops answering for good (busy in its keepalive check, no system calls) once the
    bridge reconnects: in 9 of 10 recorded runs of this test, and in 4 of 4 experiments with 10-20 s of cut
    handshakes; in none of 4 with 3-6 s, of 2 with a plain-TCP bridge, or when connections are refused (b, c).
    The watchdog of docs/deploy.md (configs/deploy/ohs-broker-watchdog.service: the probe of
    mosquitto-probe.options, then a restart, SIGKILL for a hung broker) brings the site back, and nothing is
    lost or doubled. On a mosquitto without the defect the probe passes and the test checks the counts only."""
    if shutil.which("mosquitto_sub") is None:
        pytest.skip("mosquitto_sub is not installed (Debian package mosquitto-clients): the watchdog's probe needs it")
    started = time.monotonic()
    options = tmp_path / "probe"
    write_probe_options(options, plant.site.host, plant.site.port, plant.pki["ca"], PASSWORDS["monitor"])
    agent = _start(plant)
    assert probe(options), "the watchdog's probe fails on a healthy site broker"
    producer = Producer(agent, interval=EXAM_EVERY_S, telemetry_every=TELEMETRY_EVERY_S).start()
    time.sleep(2.0)
    plant.central.stop(signal.SIGTERM)  # the relay stays up: it accepts the bridge's connections and closes them
    window = FaultWindow("central broker down behind an accepting relay", utc_now())
    time.sleep(HANDSHAKE_EOF_S)
    restart_broker(plant.central, signal.SIGTERM)
    back_at = time.monotonic()
    # the watchdog's view: probe until the bridge is back at the central broker, or the site broker stops answering
    hung = False
    while time.monotonic() - back_at < 12:
        if not probe(options):
            hung = True
            break
        if plant.bridge_up_at_central():
            break
        time.sleep(0.5)
    hang_seen_s = round(time.monotonic() - back_at, 1)
    if hung:
        say(f"site broker stopped answering {hang_seen_s} s after the central broker came back: restarting it")
        restart_broker(plant.site, signal.SIGKILL)  # what systemd does after TimeoutStopSec: SIGTERM is ignored
    window.end = utc_now()
    recovered = eventually(plant.bridge_up_at_central, timeout=20, interval=0.1)
    recovered_s = round(time.monotonic() - back_at, 1)
    time.sleep(2.0)
    made, drained, drain_s = _finish(plant, agent, producer, back_at)
    counts = _counts(plant, agent)
    figures = {**counts["counts"], **made, "handshake_eof_s": HANDSHAKE_EOF_S, "site_broker_hung": hung,
               "hang_seen_after_central_back_s": hang_seen_s if hung else None,
               "probe_after_restart": probe(options), "bridge_back_after_central_back_s": recovered_s,
               "drain_after_central_back_s": drain_s, "outage_s": round(window.seconds, 1),
               "test_s": round(time.monotonic() - started, 1), **_deploy_figures(plant)}
    write_artifact(artifacts_dir, "d_handshake_eof_hang", figures)
    say(f"bridge (d): site broker hung: {hung}; {figures['sent']} sent, {figures['stored']} stored, "
        f"{figures['lost']} lost, {figures['duplicated']} duplicated; drained {drain_s} s after the central returned")

    assert recovered, "the bridge did not come back (after the watchdog's restart)"
    assert figures["probe_after_restart"], "the site broker does not answer the probe after the restart"
    assert drained, f"{agent.journal.outbox_depth()} records still in the outbox"
    assert_exactly_once(counts["result"])
    assert made["exam_errors"] == 0


def test_the_deploy_configs_start_as_written(tmp_path):
    """configs/deploy/mosquitto-central.conf and mosquitto-site-bridge.conf, whole, with only their host paths,
    ports, address and password replaced: mosquitto starts them, the bridge connects over TLS with its password
    and the central ACL, and a kiosk's record crosses it; the bridge's credential cannot write another site."""
    pki = write_pki(tmp_path / "pki")
    central_dir, site_dir = tmp_path / "central", tmp_path / "site"
    for folder in (central_dir, site_dir):
        folder.mkdir()
    central_port, site_port = free_port(), free_port()
    certs = {"cafile": str(pki["ca"]), "certfile": str(pki["cert"]), "keyfile": str(pki["key"])}
    central_conf = deploy_conf_for_test(CENTRAL_CONF, central_dir, {
        "password_file": str(write_passwords(tmp_path / "central.passwd", {
            "hub": PASSWORDS["hub"], BRIDGE_USER: PASSWORDS[BRIDGE_USER]})),
        "acl_file": str(write_acl(tmp_path / "central.acl", ACL, DEPLOY / "acl-central-bridges",
                                  DEPLOY / "acl-monitor")),
        "persistence_location": f"{central_dir}/", "listener": f"{central_port} 127.0.0.1", **certs})
    site_conf = deploy_conf_for_test(SITE_BRIDGE_CONF, site_dir, {
        "password_file": str(write_passwords(tmp_path / "site.passwd", {
            f"{SITE}/{KIOSK}": PASSWORDS[f"{SITE}/{KIOSK}"]})),
        "acl_file": str(write_acl(tmp_path / "site.acl", ACL, DEPLOY / "acl-monitor")),
        "persistence_location": f"{site_dir}/", "listener": f"{site_port} 127.0.0.1", **certs,
        "address": f"127.0.0.1:{central_port}", "bridge_cafile": str(pki["ca"]),
        "remote_password": PASSWORDS[BRIDGE_USER]})
    processes = []
    try:
        for conf, port in ((central_conf, central_port), (site_conf, site_port)):
            processes.append(subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL))
            wait_listening("127.0.0.1", port, process=processes[-1])
        got = []
        central = make_client(MqttSettings(host="127.0.0.1", port=central_port, username="hub",
                                           password=PASSWORDS["hub"], tls_ca_file=pki["ca"]),
                              "test-hub", clean_session=True)
        central.on_connect = lambda c, *_: c.subscribe(f"ohs/v1/{SITE}/+/exam", 1)
        central.on_message = lambda c, u, m: got.append(m.topic)
        central.connect("127.0.0.1", central_port)
        central.loop_start()
        kiosk = make_client(MqttSettings(host="127.0.0.1", port=site_port, username=f"{SITE}/{KIOSK}",
                                         password=PASSWORDS[f"{SITE}/{KIOSK}"], tls_ca_file=pki["ca"]),
                            "test-kiosk", clean_session=True)
        kiosk.connect("127.0.0.1", site_port)
        kiosk.loop_start()
        deadline = time.monotonic() + 15
        while not got and time.monotonic() < deadline:  # until the bridge is up and the message crossed it
            kiosk.publish(f"ohs/v1/{SITE}/{KIOSK}/exam", b"{}", qos=1)
            time.sleep(0.5)
        if not got:
            logs = {name: (folder / "mosquitto.log").read_text(errors="replace")[-1500:]
                    for name, folder in (("central", central_dir), ("site", site_dir))}
            raise AssertionError(f"a kiosk record did not cross the bridge of the deploy files: {logs}")
        # acl-central-bridges: the bridge's credential writes its own site's kiosk topics only
        spoof = make_client(MqttSettings(host="127.0.0.1", port=central_port, username=BRIDGE_USER,
                                         password=PASSWORDS[BRIDGE_USER], tls_ca_file=pki["ca"]),
                            "test-spoof", clean_session=True)
        spoof.connect("127.0.0.1", central_port)
        spoof.loop_start()
        central.subscribe("ohs/v1/plant-2/+/exam", 1)
        time.sleep(0.5)
        got.clear()
        spoof.publish("ohs/v1/plant-2/kiosk-01/exam", b"{}", qos=1).wait_for_publish(5)
        spoof.publish(f"ohs/v1/{SITE}/kiosk-01/exam", b"{}", qos=1).wait_for_publish(5)
        eventually(lambda: bool(got), timeout=5, interval=0.1)
        time.sleep(0.5)
        for client in (spoof, kiosk, central):
            client.disconnect()
            client.loop_stop()
        assert "ohs/v1/plant-2/kiosk-01/exam" not in got, f"the bridge user wrote outside its site: {got}"
        assert f"ohs/v1/{SITE}/kiosk-01/exam" in got, f"the bridge user could not write its own site: {got}"
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)
