"""Modbus RTU bridges (pymodbus): noise transmitter and optical smoke detector.

Pure codecs: :mod:`.frames` (RTU frame + CRC-16/MODBUS), :mod:`.noise`, :mod:`.smoke`;
client transport: :mod:`.transport`; pollers: :mod:`.drivers`.
"""
