"""One logging set-up for the command-line entry points (kiosk, demo, simulators).

Libraries never set levels at import; the entry point does, here. pymodbus logs every retry
and timeout as ERROR, which ``firmware_bridges.modbus.transport`` already reports as typed
device errors, so below DEBUG it is set to CRITICAL; at DEBUG everything is shown.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"

#: third-party loggers with a level of their own unless the process logs at DEBUG
QUIET_LOGGERS: Mapping[str, int] = {"pymodbus": logging.CRITICAL}


def configure_logging(level: int | str = logging.WARNING, quiet: Mapping[str, int] = QUIET_LOGGERS) -> None:
    """Root handler with the project's format at ``level`` (a number or a name such as ``"info"``)."""
    number = logging.getLevelNamesMapping().get(level.upper()) if isinstance(level, str) else level
    if number is None:
        raise ValueError(f"unknown log level {level!r}; use debug, info, warning or error")
    logging.basicConfig(level=number, format=LOG_FORMAT)
    if number > logging.DEBUG:
        for logger_name, logger_level in quiet.items():
            logging.getLogger(logger_name).setLevel(logger_level)
