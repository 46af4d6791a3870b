"""Serial device bridges (pyserial): breathalyzer line protocol, badge readers, PMS5003.

Pure codecs: :mod:`.alcotester`, :mod:`.badge`, :mod:`.pms5003` (no pyserial import);
framers: :mod:`.framing`; async transport: :mod:`.transport`; drivers: :mod:`.drivers`.
"""
