"""Modbus RTU device simulators on a real pymodbus server (RTU-over-TCP or socat pty)."""
