#!/usr/bin/env bash
# Static checks (issue 12): mypy strict (config in pyproject.toml [tool.mypy]) on the pure packages — the
# firmware_bridges decoders and contract, edge_agent/admission, hub/models — then ruff (with bugbear) on the tree.
# Exits non-zero on any error.
#
#   bash tools/typecheck.sh
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

status=0
"$BIN/mypy" \
  firmware_bridges/ble/_common.py firmware_bridges/ble/berrymed.py firmware_bridges/ble/blood_pressure.py \
  firmware_bridges/ble/plausibility.py firmware_bridges/ble/plx.py firmware_bridges/ble/sfloat.py \
  firmware_bridges/ble/thermometer.py firmware_bridges/ble/config.py \
  firmware_bridges/serial/alcotester.py firmware_bridges/serial/badge.py firmware_bridges/serial/escpos.py \
  firmware_bridges/serial/framing.py firmware_bridges/serial/pms5003.py \
  firmware_bridges/modbus/frames.py firmware_bridges/modbus/noise.py firmware_bridges/modbus/smoke.py \
  firmware_bridges/readings.py firmware_bridges/evidence.py firmware_bridges/configfile.py \
  firmware_bridges/profiles.py firmware_bridges/contract.py \
  edge_agent/admission hub/models \
  || status=1
"$BIN/ruff" check . || status=1
exit "$status"
