#!/usr/bin/env bash
# Everything the test suite needs on a fresh Debian/Ubuntu machine, then the suite itself.
#
#   bash tests/run.sh [pytest arguments]
#
# System packages (installed with apt-get when missing; sudo when not root):
#   mosquitto, mosquitto-clients   the real MQTT broker every delivery test talks to; mosquitto_passwd
#              and the mosquitto_sub probe of the bridge test
#   chromium   the headless browser of the screen tests (Playwright drives Debian's build)
#   socat      pseudo-terminal pairs for the serial-device tests
#   iproute2, nftables   network namespaces and packet loss for the partition fault test
#   faketime   a kiosk clock a day wrong, without touching the system clock
#   victoria-metrics   the InfluxDB-compatible time-series server the telemetry sink is tested against (v2 write API)
#   postgresql the hub's second storage back end: the tests start throwaway servers (initdb, pg_ctl)
#   fonts-dejavu-core   the Cyrillic font embedded in the PDF exports (hub/exports/fonts.py)
#   poppler-utils   pdftoppm, which turns the exported PDFs into PNG pages in the export tests
# Python packages go into .venv (pip install -e '.[dev]' -c requirements/lock.txt); then pytest runs with the
# project's settings.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || need+=(mosquitto-clients)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v socat >/dev/null 2>&1 || need+=(socat)
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || need+=(iproute2)
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || need+=(nftables)
compgen -G "/usr/lib/*-linux-gnu/faketime/libfaketime*.so.1" >/dev/null || need+=(faketime)
command -v victoria-metrics >/dev/null 2>&1 || [ -x /usr/bin/victoria-metrics ] || need+=(victoria-metrics)
compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || need+=(postgresql)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  echo "installing system packages: ${need[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
# requirements/lock.txt (bash tools/lock.sh) pins the versions CI tests; as a constraints file it pins only what it
# lists, so a dependency newer than the lock still installs (tests/packaging/test_lock.py then names it)
lock=(); [ -f requirements/lock.txt ] && lock=(-c requirements/lock.txt)
.venv/bin/pip install -q -e '.[dev]' "${lock[@]}"
exec .venv/bin/python -m pytest "$@"
