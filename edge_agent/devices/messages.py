"""Health messages in Russian and English, per failure code and device kind.

Every message says what is wrong *and what to do*, for the worker at the gate or the
technician ("Манжета не отвечает: проверьте, что тонометр включён"). Link-level codes
(not responding, disconnected, garbled data, Bluetooth adapter) have a message per device
kind here, because the remedy differs per device. Codes a device reports itself (the
alcotester's E01…E11, Modbus exceptions, implausible values, "no valid value") reuse the
message the bridge's :class:`~firmware_bridges.devices.DeviceError` already carries
(``firmware_bridges/serial/alcotester.py`` ``ERROR_MESSAGES``, ``firmware_bridges/devices.py``).
"""

from __future__ import annotations

from firmware_bridges.devices import DeviceError, kind_names
from firmware_bridges.serial.alcotester import ERROR_MESSAGES as ALCOTESTER_MESSAGES

Message = tuple[str, str]

#: code → kind → (ru, en). Kind "*" is the fallback for that code.
CATALOGUE: dict[str, dict[str, Message]] = {
    "not_responding": {
        "bp_cuff": (
            "Манжета не отвечает: проверьте, что тонометр включён и находится рядом с киоском",
            "The blood-pressure cuff is not responding: check that it is switched on and near the kiosk",
        ),
        "thermometer": (
            "Термометр не отвечает: проверьте, что он включён и заряжен",
            "The thermometer is not responding: check that it is switched on and charged",
        ),
        "oximeter": (
            "Пульсоксиметр не отвечает: включите его (вставьте палец в датчик) и проверьте батарейки",
            "The pulse oximeter is not responding: switch it on (put a finger in the sensor) and check the batteries",
        ),
        "alcotester": (
            "Алкотестер не отвечает: проверьте, что он включён и кабель подключён к киоску",
            "The breathalyzer is not responding: check that it is switched on and its cable is plugged into the kiosk",
        ),
        "badge_reader": (
            "Считыватель пропусков не найден: проверьте кабель считывателя",
            "The badge reader cannot be found: check the reader's cable",
        ),
        "particulate": (
            "Датчик пыли не присылает данных: проверьте питание 5 В и провод UART",
            "The particulate sensor sends no data: check its 5 V supply and the UART wire",
        ),
        "noise": (
            "Датчик шума не отвечает: проверьте питание, линию RS-485 (A/B) и адрес устройства",
            "The noise sensor is not responding: check its power, the RS-485 line (A/B) and the device address",
        ),
        "smoke": (
            "Датчик дыма не отвечает — состояние тревоги неизвестно: проверьте питание и линию RS-485",
            "The smoke detector is not responding — alarm state unknown: check its power and the RS-485 line",
        ),
        "printer": (
            "Принтер не найден: проверьте, что он включён и кабель подключён",
            "The printer cannot be found: check that it is switched on and its cable is plugged in",
        ),
        "*": (
            "{ru} не отвечает: проверьте, что устройство включено и подключено",
            "{en} is not responding: check that it is switched on and connected",
        ),
    },
    "disconnected": {
        "bp_cuff": (
            "Связь с тонометром прервалась: не отходите от киоска, измерение будет повторено",
            "The link to the blood-pressure cuff dropped: stay at the kiosk, the measurement will be repeated",
        ),
        "thermometer": (
            "Связь с термометром прервалась: держите термометр рядом с киоском и повторите",
            "The link to the thermometer dropped: keep it near the kiosk and repeat",
        ),
        "oximeter": (
            "Связь с пульсоксиметром прервалась: держите палец в датчике, измерение будет повторено",
            "The link to the pulse oximeter dropped: keep your finger in the sensor, the measurement will be repeated",
        ),
        "smoke": (
            "Датчик дыма отключился — состояние тревоги неизвестно: проверьте кабель и питание",
            "The smoke detector was disconnected — alarm state unknown: check the cable and power",
        ),
        "*": (
            "{ru}: связь потеряна — проверьте кабель и питание",
            "{en}: connection lost — check the cable and power",
        ),
    },
    "protocol_error": {
        "*": (
            "{ru}: данные искажены — проверьте кабель, модель и скорость порта; при повторе вызовите техника",
            "{en}: the data is garbled — check the cable, model and baud rate; call a technician if it persists",
        ),
    },
    "implausible": {
        "*": (
            "{ru} выдаёт недостоверные значения: повторите измерение; если повторяется — вызовите техника",
            "{en} gives implausible values: repeat the measurement; call a technician if it persists",
        ),
    },
    "adapter_unavailable": {
        "*": (
            "Bluetooth-адаптер киоска недоступен ({ru}): перезапустите киоск или вызовите техника",
            "The kiosk's Bluetooth adapter is unavailable ({en}): restart the kiosk or call a technician",
        ),
    },
    "config_error": {
        "*": (
            "{ru}: ошибка в настройке устройства — вызовите техника",
            "{en}: the device configuration is wrong — call a technician",
        ),
    },
    "detector_fault": {
        "smoke": (
            "Датчик дыма сообщает о неисправности — состояние тревоги неизвестно: вызовите техника",
            "The smoke detector reports a fault — alarm state unknown: call a technician",
        ),
        "*": ("{ru} сообщает о неисправности: вызовите техника", "{en} reports a fault: call a technician"),
    },
    "internal_error": {
        "*": (
            "{ru}: внутренняя ошибка программы киоска — вызовите техника",
            "{en}: internal error in the kiosk software — call a technician",
        ),
    },
    # states and warnings
    "ok": {"*": ("{ru}: готов", "{en} is ready")},
    "connecting": {"*": ("{ru}: подключение…", "{en}: connecting…")},
    "disabled": {"*": ("{ru} отключён в настройках киоска", "{en} is disabled in the kiosk configuration")},
    "verification_expired": {
        "*": (
            "{ru}: истёк срок поверки ({date}) — результаты могут быть непригодны, вызовите техника",
            "{en}: its metrological verification expired on {date} — results may not be valid, call a technician",
        ),
    },
    "clock_drift": {
        "*": (
            "{ru}: часы устройства расходятся с киоском на {offset} с — время измерения берётся по часам киоска",
            "{en}: the device clock is {offset} s off the kiosk's — the kiosk's time is used for readings",
        ),
    },
}

#: Codes meaning the device itself cannot work now (state "fault"). Others are the outcome
#: of one measurement (a short blow, an implausible value): the caller gets the error and
#: the device stays "ok" — it is not broken.
DEVICE_FAULT_CODES = frozenset(
    {
        "not_responding",
        "disconnected",
        "protocol_error",
        "adapter_unavailable",
        "config_error",
        "detector_fault",
        "internal_error",
        "E05",  # sensor fault
        "E06",  # calibration overdue
        "E09",  # low battery
    }
)


def is_device_fault(code: str) -> bool:
    """True when ``code`` means the device is unusable until fixed (or reconnected)."""
    return code in DEVICE_FAULT_CODES or code.startswith("modbus_exception_")


def message_for(code: str, kind: str | None, error: DeviceError | None = None, **fmt: object) -> Message:
    """(ru, en) message for ``code`` on a device of ``kind``.

    Order: the catalogue entry for this kind; the message the bridge's error carries (it
    has the specifics: which E-code, which value); the catalogue's generic entry; the
    alcotester's own E-code table; a generic "device error <code>".
    """
    ru_name, en_name = kind_names(kind)
    entry = CATALOGUE.get(code, {})
    if kind in entry:
        ru, en = entry[kind]
    elif error is not None and error.message_ru and error.message_en:
        return error.message_ru, error.message_en
    elif "*" in entry:
        ru, en = entry["*"]
    elif code in ALCOTESTER_MESSAGES:
        return ALCOTESTER_MESSAGES[code]
    else:
        ru, en = "{ru}: ошибка устройства {code} — вызовите техника", "{en}: device error {code} — call a technician"
    values = {"ru": ru_name, "en": en_name, "code": code, **fmt}
    return ru.format(**values), en.format(**values)


__all__ = ["CATALOGUE", "DEVICE_FAULT_CODES", "is_device_fault", "localize", "message_for"]


def localize(error: DeviceError, kind: str | None) -> DeviceError:
    """The same error (class, code, details) with the catalogue's actionable message.

    The bridge's own English text (which names the port, the timeout …) is kept in
    ``details["bridge_message_en"]`` for the technician; the original is the ``__cause__``.
    """
    ru, en = message_for(error.code, kind or error.kind, error)
    if (ru, en) == (error.message_ru, error.message_en):
        return error
    out = type(error).__new__(type(error))
    DeviceError.__init__(out, ru, en, code=error.code, kind=kind or error.kind,
                         details={**error.details, "bridge_message_en": error.message_en})
    out.__cause__ = error
    return out
