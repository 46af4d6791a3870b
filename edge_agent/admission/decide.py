"""The admission pre-decision: a pure function of the exam's attempts, the worker's
individual norm and the rule set. No I/O, no clock: time is the ``minute`` of each attempt.

Outcomes
    ``admitted`` / ``not_admitted`` / ``needs_medic`` are final for the kiosk;
    ``retest`` is a regulated re-test after a waiting time (BP / pulse 835н п.11: at most
    twice, at least 20 min apart; breath alcohol confirmation 933н / 262н: 15–20 min);
    ``remeasure`` asks for an implausible, device-flagged or missing reading to be taken
    again *now* (reference §8; does not start the 20-min clock). The pre-decision is
    advisory: the medical worker makes the conclusion (ПП 866, reference §1.4).

How the attempts are read
    Each measurement group (``bp`` = systolic+diastolic from one cuff reading, ``pulse``,
    ``temperature``, ``spo2``, ``alcohol``) is walked in time order on its own:

    * a reading taken before its re-test was due is refused (``retest.interval``), not
      counted, and only screened for ``bp.severe`` (a severe value is never ignored);
    * an implausible or device-flagged reading fires ``plausibility.<group>`` and asks for a
      re-measurement; after ``max_remeasures`` (2) such re-measurements in a row the
      group fires ``device.no_valid_reading`` → ``needs_medic``. Never a decision on it;
    * BP and pulse: the latest accepted reading governs. Out of band → ``retest`` at
      previous + 20 min; out of band at the 2nd re-test → ``needs_medic``; any further
      accepted reading is a refused 3rd re-test (``retest.count`` → ``needs_medic``);
      ``bp.severe`` → ``needs_medic`` at once;
    * breath alcohol: ≥ 0.16 mg/L (the КоАП 12.8 level that already includes the total
      permissible error — compared as measured, no extra margin) asks for a confirmation
      test 15–20 min later; confirmed → ``not_admitted`` (employer notified); not
      confirmed → ``alcohol.unconfirmed`` → ``needs_medic``; confirmation after the window
      → ``alcohol.window`` → ``needs_medic``. A trace (0.001–0.159) is repeated after 15
      min; still a trace → ``needs_medic``; zero → ``admitted`` with ``alcohol.trace`` in
      ``fired``;
    * an alcohol reading above the analyser's range is re-measured like any implausible
      reading; if the next accepted reading is below 0.16 mg/L the two contradict each
      other → ``alcohol.unconfirmed`` → ``needs_medic`` (never ``admitted``);
    * temperature ≥ 37.1 °C, SpO2 < 94 % (if measured): on any accepted reading;
    * ``pulse.severe`` (≥ 130 or ≤ 40 /min): ``needs_medic`` at once, like ``bp.severe``
      (issue 13, error 2);
    * ``temp.low`` (< 35.0 °C, plausible): ``remeasure`` now (a misplaced thermometer is
      the usual cause); still low at the re-measurement → ``needs_medic`` (error 3).

Individual norms (reference §1.4, 2002 recommendations; issue 13, error 4)
    A norm is applied only when present, enabled in the rule set, computed from a stated
    ``n_readings`` ≥ ``min_readings`` (10), approved by a physician (``approved_by``,
    ``approved_on``) and centred below ``bp.severe`` / ``pulse.severe``; otherwise it is
    listed with effect ``ignored`` and the reason. With a BP norm applied, a reading at or
    above the ceiling (160/100) goes to the medic at once: the norm never admits it. ``mode = "replace"``
    (default, the safer reading): the acceptable band is norm ± tolerance (10 %) — it
    widens the population band (a reading inside overrides ``bp.high``/``bp.low``, fires
    ``bp.individual`` as information) *and* narrows it (a reading outside fires
    ``bp.high``/``bp.low`` even when inside the population band). ``mode = "widen_only"``:
    inside the band overrides, outside it the population band applies. ``bp.severe`` is
    never overridden. The same holds for pulse with ``pulse.individual``.

Combining the groups
    ``not_admitted`` > ``needs_medic`` > ``remeasure`` > ``retest`` > ``admitted``.
    ``needs_medic`` wins over pending re-tests (a severe BP must not wait 15 min for an
    alcohol confirmation); what is still pending is listed in ``pending``. A required
    measurement that was never taken (``required.missing``) yields ``remeasure`` by
    default: the exam is incomplete, the kiosk measures it now; never ``admitted``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .messages import render_reason, render_summary
from .models import Attempt, Decision, ExamInput, Fired, IndividualNorm, Pending
from .rules import GROUP_FIELDS, BpHighRule, BpLowRule, PulseRule, Rules, RuleSet

_SEVERITY = {"admitted": 0, "retest": 1, "remeasure": 2, "needs_medic": 3, "not_admitted": 4}


def _n(x: float | int | None) -> float | int | None:
    """Integral floats as int (152.0 → 152) for tidy JSON."""
    if isinstance(x, float) and x.is_integer():
        return int(x)
    return x


def _fmt(x: float) -> str:
    return f"{_n(round(x, 6))}"


@dataclass
class _Meas:
    index: int
    minute: float
    values: dict[str, float | None]
    invalid: dict[str, str]

    def value(self, group: str) -> Any:
        fields = GROUP_FIELDS[group]
        if len(fields) == 1:
            return _n(self.values.get(fields[0]))
        return {f: _n(self.values.get(f)) for f in fields}


@dataclass
class _GroupResult:
    group: str
    status: str = "admitted"  # admitted | retest | remeasure | needs_medic | not_admitted
    fired: list[Fired] = field(default_factory=list)
    not_before: float | None = None
    not_after: float | None = None
    alcohol_negative: bool = False

    def set_final(self, status: str) -> None:
        if _SEVERITY[status] > _SEVERITY.get(self.status, 0) or self.status in ("retest", "remeasure"):
            self.status = status


@dataclass
class _Band:
    lo: tuple[float, ...]
    hi: tuple[float, ...]
    mode: str
    text: str
    centre: tuple[float, ...]
    tolerance_percent: float

    def limits(self) -> dict[str, Any]:
        return {"band_low": [_n(x) for x in self.lo], "band_high": [_n(x) for x in self.hi],
                "norm": [_n(x) for x in self.centre], "tolerance_percent": _n(self.tolerance_percent)}


def _fire(rule: Any, value: Any, minute: float | None, effect: str, threshold: str | None = None,
          source: str | None = None, **detail: Any) -> Fired:
    return Fired(
        rule=rule.id,
        source=source or rule.source,
        value=value,
        minute=_n(minute),
        effect=effect,
        threshold=threshold,
        detail={k: _n(v) if isinstance(v, float) else v for k, v in detail.items() if v is not None},
    )


# --- plausibility (reference §8) ------------------------------------------------------------------


def _range(field_name: str, v: float, lo: float, hi: float) -> list[dict[str, Any]]:
    if v < lo or v > hi:
        return [{"code": "out_of_range", "field": field_name, "value": _n(v), "min": _n(lo), "max": _n(hi)}]
    return []


def _flags(m: _Meas, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    out = []
    for f in fields:
        if f in m.invalid:
            out.append({"code": "device_flag", "field": f, "reason": m.invalid[f]})
        elif m.values.get(f) is None:
            out.append({"code": "no_value", "field": f})
    return out


def _plausibility(group: str, m: _Meas, R: Rules) -> list[dict[str, Any]]:
    probs = _flags(m, GROUP_FIELDS[group])
    if probs:
        return probs
    if group == "bp":
        P = R.plausibility_bp
        s, d = m.values["systolic_mmhg"], m.values["diastolic_mmhg"]
        assert s is not None and d is not None
        probs += _range("systolic_mmhg", s, P.systolic_min, P.systolic_max)
        probs += _range("diastolic_mmhg", d, P.diastolic_min, P.diastolic_max)
        if s <= d:
            probs.append({"code": "sbp_not_above_dbp", "systolic": _n(s), "diastolic": _n(d)})
        elif not P.pulse_pressure_min <= s - d <= P.pulse_pressure_max:
            probs.append({"code": "pulse_pressure", "value": _n(round(s - d, 6)), "min": _n(P.pulse_pressure_min),
                          "max": _n(P.pulse_pressure_max)})
    elif group == "pulse":
        PP = R.plausibility_pulse
        v = m.values["pulse_bpm"]
        assert v is not None
        probs += _range("pulse_bpm", v, PP.min, PP.max)
        ox = m.values.get("oximeter_pulse_bpm")
        if not probs and ox is not None and "oximeter_pulse_bpm" not in m.invalid and PP.min <= ox <= PP.max:
            if abs(ox - v) > PP.max_oximeter_cuff_difference:
                probs.append({"code": "oximeter_mismatch", "cuff": _n(v), "oximeter": _n(ox),
                              "max_difference": _n(PP.max_oximeter_cuff_difference)})
    elif group == "temperature":
        v = m.values["temperature_c"]
        assert v is not None
        probs += _range("temperature_c", v, R.plausibility_temp.min, R.plausibility_temp.max)
    elif group == "spo2":
        P2 = R.plausibility_spo2
        v = m.values["spo2_percent"]
        assert v is not None
        probs += _range("spo2_percent", v, P2.min, P2.max)
        pi = m.values.get("perfusion_index_percent")
        if not probs and pi is not None and "perfusion_index_percent" not in m.invalid:
            if pi < P2.perfusion_index_min_percent:
                probs.append({"code": "low_perfusion", "value": _n(pi), "min": _n(P2.perfusion_index_min_percent)})
    elif group == "alcohol":
        v = m.values["brac_mg_l"]
        assert v is not None
        probs += _range("brac_mg_l", v, R.plausibility_alcohol.min, R.plausibility_alcohol.max)
    return probs


_PLAUS_RULE = {
    "bp": "plausibility_bp",
    "pulse": "plausibility_pulse",
    "temperature": "plausibility_temp",
    "spo2": "plausibility_spo2",
    "alcohol": "plausibility_alcohol",
}


class _Remeasure:
    """Counts plausibility failures in a row for one group (reference §8 policy)."""

    def __init__(self, group: str, R: Rules, res: _GroupResult):
        self.group, self.R, self.res, self.bad = group, R, res, 0

    def handle(self, m: _Meas, problems: list[dict[str, Any]]) -> bool:
        """Record an implausible reading; True when the device has now failed for good."""
        self.bad += 1
        rule = getattr(self.R, _PLAUS_RULE[self.group])
        limit = self.R.device_no_valid_reading.max_remeasures
        if self.bad > limit:
            self.res.fired.append(_fire(rule, m.value(self.group), m.minute, "needs_medic", problems=problems,
                                        group=self.group))
            self.res.fired.append(_fire(self.R.device_no_valid_reading, self.bad, m.minute, "needs_medic",
                                        threshold=f"> {limit} re-measurements", group=self.group))
            self.res.set_final(self.R.device_no_valid_reading.outcome)
            return True
        self.res.fired.append(_fire(rule, m.value(self.group), m.minute, "remeasure", problems=problems,
                                    group=self.group, remeasure_number=self.bad))
        return False


# --- individual norms ----------------------------------------------------------------------------


def _norm_unusable(kind: str, norm: IndividualNorm, centre: tuple[float, ...], plausible: bool, rule: Any,
                   R: Rules) -> str | None:
    """Why a norm must not be applied (issue 13, error 4), or None when it may be."""
    if norm.n_readings is None:
        return "no_readings_count"
    if norm.n_readings < rule.min_readings:
        return "too_few_readings"
    if rule.require_approval and (norm.approved_by is None or norm.approved_on is None):
        return "not_approved"
    if not plausible:
        return "implausible_norm"
    if kind == "bp":
        if _bp_at_or_above(centre, R.bp_severe.systolic_at_or_above, R.bp_severe.diastolic_at_or_above):
            return "norm_above_severe"
    elif _pulse_severe(centre[0], R):
        return "norm_above_severe"
    return None


def _bp_at_or_above(values: tuple[float, ...], systolic: float, diastolic: float) -> bool:
    return values[0] >= systolic or values[1] >= diastolic


def _pulse_severe(v: float, R: Rules) -> bool:
    return v >= R.pulse_severe.at_or_above or v <= R.pulse_severe.at_or_below


def _norm_band(kind: str, norm: IndividualNorm | None, R: Rules, res_fired: list[Fired]) -> _Band | None:
    if norm is None:
        return None
    rule = R.bp_individual if kind == "bp" else R.pulse_individual
    if kind == "bp":
        if norm.systolic_mmhg is None or norm.diastolic_mmhg is None:
            return None
        centre: tuple[float, ...] = (norm.systolic_mmhg, norm.diastolic_mmhg)
        P = R.plausibility_bp
        plausible = (P.systolic_min <= centre[0] <= P.systolic_max and P.diastolic_min <= centre[1] <= P.diastolic_max)
        value: Any = {"systolic_mmhg": _n(centre[0]), "diastolic_mmhg": _n(centre[1])}
    else:
        if norm.pulse_bpm is None:
            return None
        centre = (norm.pulse_bpm,)
        plausible = R.plausibility_pulse.min <= centre[0] <= R.plausibility_pulse.max
        value = _n(centre[0])
    if not rule.enabled:
        return None
    why = _norm_unusable(kind, norm, centre, plausible, rule, R)
    if why is not None:
        res_fired.append(_fire(rule, value, None, "ignored", threshold=f"≥ {rule.min_readings} readings",
                               why=why, n_readings=norm.n_readings, min_readings=rule.min_readings))
        return None
    t = rule.tolerance_percent / 100.0
    lo = tuple(round(c * (1 - t), 6) for c in centre)
    hi = tuple(round(c * (1 + t), 6) for c in centre)
    if kind == "bp":
        text = (f"{_fmt(lo[0])}–{_fmt(hi[0])} / {_fmt(lo[1])}–{_fmt(hi[1])} mmHg "
                f"(individual norm {_fmt(centre[0])}/{_fmt(centre[1])} ±{_fmt(rule.tolerance_percent)} %)")
    else:
        text = f"{_fmt(lo[0])}–{_fmt(hi[0])} /min (individual norm {_fmt(centre[0])} ±{_fmt(rule.tolerance_percent)} %)"
    return _Band(lo=lo, hi=hi, mode=rule.mode, text=text, centre=centre, tolerance_percent=rule.tolerance_percent)


# (rule, direction, threshold text, basis, limits)
_Finding = tuple[BpHighRule | BpLowRule | PulseRule, str, str, str, dict[str, Any]]


def _deviations(group: str, m: _Meas, R: Rules, band: _Band | None) -> tuple[list[_Finding], bool]:
    """Out-of-band findings of an accepted BP or pulse reading.

    Returns ([(rule, direction, threshold text, basis, limits)], override) where override
    means: the population band would fire but the individual norm accepts the reading.
    """
    if group == "bp":
        s, d = m.values["systolic_mmhg"], m.values["diastolic_mmhg"]
        assert s is not None and d is not None
        vals: tuple[float, ...] = (s, d)
        H, L = R.bp_high, R.bp_low
        pop: list[_Finding]
        high_rule: BpHighRule | PulseRule
        low_rule: BpLowRule | PulseRule
        pop_high = s >= H.systolic_at_or_above - H.guard_band or d >= H.diastolic_at_or_above - H.guard_band
        pop_low = s < L.systolic_below + L.guard_band or d < L.diastolic_below + L.guard_band
        pop = [(H, "high", f"≥ {_fmt(H.systolic_at_or_above)}/{_fmt(H.diastolic_at_or_above)} mmHg", "population",
                {"limit": [_n(H.systolic_at_or_above), _n(H.diastolic_at_or_above)]})] * pop_high
        pop += [(L, "low", f"< {_fmt(L.systolic_below)}/{_fmt(L.diastolic_below)} mmHg", "population",
                 {"limit": [_n(L.systolic_below), _n(L.diastolic_below)]})] * pop_low
        high_rule, low_rule = H, L
    else:
        v = m.values["pulse_bpm"]
        assert v is not None
        vals = (v,)
        P = R.pulse
        pop_high = v > P.above - P.guard_band
        pop_low = v < P.below + P.guard_band
        rng = f"{_fmt(P.below)}–{_fmt(P.above)} /min"
        lim = {"limit": [_n(P.below), _n(P.above)]}
        pop = [(P, "high", f"> {_fmt(P.above)} /min (band {rng})", "population", lim)] * pop_high
        pop += [(P, "low", f"< {_fmt(P.below)} /min (band {rng})", "population", lim)] * pop_low
        high_rule = low_rule = P
    if band is None:
        return pop, False
    C = R.bp_individual
    ceiling = group == "bp" and _bp_at_or_above(vals, C.ceiling_systolic_at_or_above, C.ceiling_diastolic_at_or_above)
    in_band = all(lo <= x <= hi for x, lo, hi in zip(vals, band.lo, band.hi, strict=True)) and not ceiling
    if in_band:
        return [], bool(pop)
    if band.mode == "widen_only":
        return pop, False
    blim = band.limits()
    ind: list[_Finding] = []
    if ceiling or any(x > hi for x, hi in zip(vals, band.hi, strict=True)):
        ind.append((high_rule, "high", band.text, "individual", blim))
    if any(x < lo for x, lo in zip(vals, band.lo, strict=True)):
        ind.append((low_rule, "low", band.text, "individual", blim))
    return ind, False


def _is_severe(m: _Meas, R: Rules) -> bool:
    S = R.bp_severe
    s, d = m.values["systolic_mmhg"], m.values["diastolic_mmhg"]
    assert s is not None and d is not None
    return s >= S.systolic_at_or_above - S.guard_band or d >= S.diastolic_at_or_above - S.guard_band


def _severe_fired(group: str, m: _Meas, R: Rules) -> Fired | None:
    """``bp.severe`` or ``pulse.severe`` for a plausible reading: needs_medic at once, never overridden."""
    if group == "bp" and _is_severe(m, R):
        return _fire(R.bp_severe, m.value(group), m.minute, "needs_medic", threshold=_severe_threshold(R),
                     limit=[_n(R.bp_severe.systolic_at_or_above), _n(R.bp_severe.diastolic_at_or_above)])
    if group == "pulse":
        v = m.values["pulse_bpm"]
        assert v is not None
        P = R.pulse_severe
        if _pulse_severe(v, R):
            return _fire(P, _n(v), m.minute, "needs_medic",
                         threshold=f"≥ {_fmt(P.at_or_above)} or ≤ {_fmt(P.at_or_below)} /min",
                         direction="high" if v >= P.at_or_above else "low",
                         limit=[_n(P.at_or_below), _n(P.at_or_above)])
    return None


def _ceiling_fired(m: _Meas, R: Rules, band: _Band | None) -> Fired | None:
    """With a BP norm applied, a reading at or above the ceiling is never admitted by the norm."""
    C = R.bp_individual
    if band is None or C.ceiling_outcome != "needs_medic":
        return None
    vals = (m.values["systolic_mmhg"], m.values["diastolic_mmhg"])
    if not _bp_at_or_above(vals, C.ceiling_systolic_at_or_above, C.ceiling_diastolic_at_or_above):  # type: ignore[arg-type]
        return None
    return _fire(C, m.value("bp"), m.minute, "needs_medic",
                 threshold=f"≥ {_fmt(C.ceiling_systolic_at_or_above)}/{_fmt(C.ceiling_diastolic_at_or_above)} mmHg",
                 why="ceiling", ceiling=[_n(C.ceiling_systolic_at_or_above), _n(C.ceiling_diastolic_at_or_above)],
                 **band.limits())


def _severe_threshold(R: Rules) -> str:
    S = R.bp_severe
    return f"≥ {_fmt(S.systolic_at_or_above)}/{_fmt(S.diastolic_at_or_above)} mmHg"


# --- group walkers -------------------------------------------------------------------------------


def _walk_regulated(group: str, ms: list[_Meas], R: Rules, norm: IndividualNorm | None) -> _GroupResult:
    """BP or pulse: regulated re-tests (835н п.11) with plausibility re-measurements."""
    res = _GroupResult(group)
    band = _norm_band(group, norm, R, res.fired)
    max_retests = R.retest_count.max_retests
    interval = R.retest_interval.min_minutes
    override_rule = R.bp_individual if group == "bp" else R.pulse_individual
    remeasure = _Remeasure(group, R, res)
    accepted = 0
    prev_minute: float | None = None
    next_due: float | None = None
    final = False
    count_fired = False

    def refuse_count(m: _Meas) -> None:
        res.fired.append(_fire(R.retest_count, m.value(group), m.minute, "needs_medic",
                               threshold=f"≤ {max_retests} re-tests", group=group, retest_number=accepted,
                               max_retests=max_retests))
        res.set_final(R.retest_count.outcome)

    for m in ms:
        problems = _plausibility(group, m, R)
        if final:
            if not problems and accepted >= 1 + max_retests and not count_fired:
                refuse_count(m)
                count_fired = True
            continue
        if next_due is not None and m.minute < next_due:
            res.fired.append(_fire(R.retest_interval, _n(m.minute), m.minute, "retest",
                                   threshold=f"≥ {_fmt(interval)} min after the previous reading", group=group,
                                   previous_minute=prev_minute, not_before_minute=next_due,
                                   reading=m.value(group)))
            severe = None if problems else _severe_fired(group, m, R)
            if severe is not None:
                res.fired.append(severe)
                res.set_final("needs_medic")
                final = True
            continue
        if problems:
            final = remeasure.handle(m, problems)
            continue
        remeasure.bad = 0
        if accepted >= 1 + max_retests:
            refuse_count(m)
            count_fired = final = True
            continue
        accepted += 1
        retest_number = accepted - 1
        prev_minute = m.minute
        severe = _severe_fired(group, m, R) or (_ceiling_fired(m, R, band) if group == "bp" else None)
        if severe is not None:
            res.fired.append(severe)
            res.set_final("needs_medic")
            final = True
            continue
        devs, override = _deviations(group, m, R, band)
        if devs:
            if retest_number < max_retests:
                effect = "retest"
                next_due = m.minute + interval
            else:
                effect = "needs_medic"
                res.set_final("needs_medic")
                final = True
            for rule, direction, threshold, basis, limits in devs:
                res.fired.append(_fire(rule, m.value(group), m.minute, effect, threshold=threshold,
                                       direction=direction, basis=basis, retest_number=retest_number,
                                       max_retests=max_retests,
                                       not_before_minute=next_due if effect == "retest" else None, **limits))
        else:
            next_due = None
            if override and band is not None:
                res.fired.append(_fire(override_rule, m.value(group), m.minute, "info", threshold=band.text,
                                       overrides="bp.high / bp.low" if group == "bp" else "pulse", **band.limits()))
    if not final:
        if remeasure.bad > 0:
            res.status = "remeasure"
        elif next_due is not None:
            res.status, res.not_before = "retest", next_due
    return res


def _walk_alcohol(ms: list[_Meas], R: Rules) -> _GroupResult:
    """Breath alcohol (reference §1.5): confirmation of a positive, repeat of a trace."""
    res = _GroupResult("alcohol")
    A, T = R.alcohol, R.alcohol_trace
    remeasure = _Remeasure("alcohol", R, res)
    state = "clean"  # clean | await_confirm | await_repeat
    anchor = 0.0
    first: Any = None
    final = False
    accepted = 0
    over_range: Any = None  # last over-range value not yet followed by an accepted reading

    def window() -> tuple[float, float, Any]:
        if state == "await_confirm":
            return anchor + A.confirm_after_minutes, anchor + A.confirm_within_minutes, A
        return anchor + T.repeat_after_minutes, anchor + T.repeat_within_minutes, T

    for m in ms:
        if final:
            continue
        problems = _plausibility("alcohol", m, R)
        if state != "clean":
            lo, hi, wrule = window()
            if m.minute < lo:
                res.fired.append(_fire(R.retest_interval, _n(m.minute), m.minute, "retest",
                                       threshold=f"second breath test from minute {_fmt(lo)}", source=wrule.source,
                                       group="alcohol", previous_minute=anchor, not_before_minute=lo,
                                       reading=m.value("alcohol")))
                continue
        if problems:
            raw = m.values.get("brac_mg_l")
            if raw is not None and "brac_mg_l" not in m.invalid and raw > R.plausibility_alcohol.max:
                over_range = _n(raw)
            final = remeasure.handle(m, problems)
            continue
        remeasure.bad = 0
        accepted += 1
        v = m.values["brac_mg_l"]
        assert v is not None
        positive = v >= A.at_or_above
        trace = T.enabled and v >= T.at_or_above and not positive
        pos_thr = f"≥ {_fmt(A.at_or_above)} mg/L"
        trace_thr = f"{_fmt(T.at_or_above)}–<{_fmt(A.at_or_above)} mg/L"
        if state != "clean":
            lo, hi, wrule = window()
            if m.minute > hi:
                res.fired.append(_fire(R.alcohol_window, _n(v), m.minute, "needs_medic",
                                       threshold=f"minute {_fmt(lo)}–{_fmt(hi)}", first_value=first,
                                       first_minute=anchor, window_from=lo, window_to=hi))
                res.set_final(R.alcohol_window.outcome)
                final = True
                continue
        if over_range is not None and state == "clean" and not positive:
            # An over-range reading is re-measured (reference §8), but a re-measurement far
            # below it contradicts it (mouth alcohol? glitch?): hold for the medic, never admit.
            res.fired.append(_fire(R.alcohol_unconfirmed, _n(v), m.minute, "needs_medic", threshold=pos_thr,
                                   limit=A.at_or_above, first_value=over_range, over_range=True))
            res.set_final(R.alcohol_unconfirmed.outcome)
            final = True
            continue
        over_range = None
        if state == "await_confirm":
            if positive:
                res.fired.append(_fire(A, _n(v), m.minute, "not_admitted", threshold=pos_thr, test=2, limit=A.at_or_above,
                                       first_value=first, first_minute=anchor))
                res.set_final(A.outcome)
            else:
                res.fired.append(_fire(R.alcohol_unconfirmed, _n(v), m.minute, "needs_medic", threshold=pos_thr, limit=A.at_or_above,
                                       first_value=first, first_minute=anchor))
                res.set_final(R.alcohol_unconfirmed.outcome)
            final = True
        elif state == "await_repeat" and trace:
            res.fired.append(_fire(T, _n(v), m.minute, T.outcome_if_persists, threshold=trace_thr, test=2, limit=A.at_or_above,
                                   first_value=first, first_minute=anchor))
            res.set_final(T.outcome_if_persists)
            final = True
        elif positive:
            state, anchor, first = "await_confirm", m.minute, _n(v)
            res.fired.append(_fire(A, _n(v), m.minute, "retest", threshold=pos_thr, test=1, limit=A.at_or_above,
                                   not_before_minute=anchor + A.confirm_after_minutes,
                                   not_after_minute=anchor + A.confirm_within_minutes))
        elif trace:
            state, anchor, first = "await_repeat", m.minute, _n(v)
            res.fired.append(_fire(T, _n(v), m.minute, "retest", threshold=trace_thr, test=1, limit=A.at_or_above,
                                   not_before_minute=anchor + T.repeat_after_minutes,
                                   not_after_minute=anchor + T.repeat_within_minutes))
        else:
            state = "clean"  # a zero after a trace clears it (admitted with the trace flag)
    if not final:
        if remeasure.bad > 0:
            res.status = "remeasure"
        elif state != "clean":
            lo, hi, _ = window()
            res.status, res.not_before, res.not_after = "retest", lo, hi
        else:
            res.alcohol_negative = accepted > 0
    return res


def _walk_simple(group: str, ms: list[_Meas], R: Rules) -> _GroupResult:
    """Temperature and SpO2: no regulated re-test; any accepted reading over the line decides."""
    res = _GroupResult(group)
    remeasure = _Remeasure(group, R, res)
    final = False
    low = 0  # temp.low readings in a row
    for m in ms:
        if final:
            continue
        problems = _plausibility(group, m, R)
        if problems:
            final = remeasure.handle(m, problems)
            continue
        remeasure.bad = 0
        if group == "temperature":
            v = m.values["temperature_c"]
            assert v is not None
            TL = R.temp_low
            if TL.enabled and v < TL.below:
                low += 1
                effect = "remeasure" if low <= TL.remeasures else TL.outcome
                res.fired.append(_fire(TL, _n(v), m.minute, effect, threshold=f"< {_fmt(TL.below)} °C", limit=TL.below,
                                       remeasure_number=low if effect == "remeasure" else None, group=group))
                if effect != "remeasure":
                    res.set_final(TL.outcome)
                    final = True
                continue
            low = 0
            rule = R.temp
            hit = v >= rule.at_or_above - rule.guard_band
            threshold = f"≥ {_fmt(rule.at_or_above)} °C"
            limit = rule.at_or_above
        else:
            v = m.values["spo2_percent"]
            assert v is not None
            rule2 = R.spo2_low
            hit = rule2.enabled and v < rule2.below + rule2.guard_band
            threshold = f"< {_fmt(rule2.below)} %"
            limit = rule2.below
            rule = rule2  # type: ignore[assignment]
        if hit:
            res.fired.append(_fire(rule, _n(v), m.minute, rule.outcome, threshold=threshold, limit=limit))
            res.set_final(rule.outcome)
            final = True
    if not final and (remeasure.bad > 0 or low > 0):
        res.status = "remeasure"
    return res


# --- the decision --------------------------------------------------------------------------------


def _measurements(exam: ExamInput) -> dict[str, list[_Meas]]:
    out: dict[str, list[_Meas]] = {g: [] for g in GROUP_FIELDS}
    for i, a in enumerate(exam.attempts):
        present = a.present()
        values = {f: getattr(a, f) for f in Attempt.model_fields if f not in ("minute", "invalid")}
        for g, fields in GROUP_FIELDS.items():
            if any(f in present for f in fields):
                out[g].append(_Meas(index=i, minute=a.minute, values=values, invalid={f: why for f, why in a.invalid.items()}))
    return out


def decide(exam: ExamInput | dict[str, Any], rules: RuleSet) -> Decision:
    """The pre-decision for one exam. Pure: no I/O, no clock.

    ``exam`` may be an :class:`ExamInput` or its JSON-like dict (validated here; a
    :class:`pydantic.ValidationError` names the field).
    """
    if not isinstance(exam, ExamInput):
        exam = ExamInput.model_validate(exam)
    R = rules.rules
    ms = _measurements(exam)
    results: list[_GroupResult] = []

    required = rules.exam_types[exam.exam_type].required
    for g in GROUP_FIELDS:
        if not ms[g]:
            res = _GroupResult(g)
            if g in required:
                rr = R.required_missing
                res.fired.append(_fire(rr, list(GROUP_FIELDS[g]), None, rr.outcome,
                                       source=f"{rr.source}; {rules.exam_types[exam.exam_type].source}",
                                       group=g, exam_type=exam.exam_type))
                res.status = rr.outcome
            results.append(res)
            continue
        if g in ("bp", "pulse"):
            results.append(_walk_regulated(g, ms[g], R, exam.individual_norm))
        elif g == "alcohol":
            results.append(_walk_alcohol(ms[g], R))
        else:
            results.append(_walk_simple(g, ms[g], R))

    extra = _GroupResult("survey")
    for c in exam.complaints:
        extra.fired.append(_fire(R.complaints, c, None, R.complaints.outcome))
        extra.set_final(R.complaints.outcome)
    alcohol = next(r for r in results if r.group == "alcohol")
    if exam.signs_of_intoxication and alcohol.status != "not_admitted":
        extra.fired.append(_fire(R.psychoactive, True, None, R.psychoactive.outcome,
                                 urine_test="requested" if alcohol.alcohol_negative else "if the breath test is negative"))
        extra.set_final(R.psychoactive.outcome)
    results.append(extra)

    outcome = max((r.status for r in results), key=lambda s: _SEVERITY[s])

    fired = [f for r in results for f in r.fired]
    fired.sort(key=lambda f: -1.0 if f.minute is None else float(f.minute))

    pending: list[Pending] = []
    remeasure_fields: list[str] = []
    for r in results:
        if r.status == "remeasure":
            fields = list(GROUP_FIELDS[r.group])
            remeasure_fields += fields
            pending.append(Pending(group=r.group, action="remeasure", fields=fields))
        elif r.status == "retest":
            pending.append(Pending(group=r.group, action="retest", fields=list(GROUP_FIELDS[r.group]),
                                   not_before_minute=_n(r.not_before), not_after_minute=_n(r.not_after)))
    retests = [p for p in pending if p.action == "retest"]
    not_before = not_after = None
    if outcome == "retest":
        not_before = min(float(p.not_before_minute) for p in retests if p.not_before_minute is not None)
        afters = [float(p.not_after_minute) for p in retests if p.not_after_minute is not None]
        not_after = min(afters) if afters else None

    decision = Decision(
        outcome=outcome,
        fired=fired,
        retest_not_before_minute=_n(not_before),
        retest_not_after_minute=_n(not_after),
        remeasure=remeasure_fields if outcome == "remeasure" else [],
        pending=pending,
        notify_employer=(outcome == "not_admitted" and R.alcohol.notify_employer
                         and any(f.rule == "alcohol" and f.effect == "not_admitted" for f in fired)),
        medic_queue=outcome in ("needs_medic", "not_admitted"),
        exam_type=exam.exam_type,
        rule_set_id=rules.rule_set.id,
        rule_set_version=rules.rule_set.version,
        rule_set_sha256=rules.fingerprint(),
    )
    decision.reasons = [render_reason(f, outcome) for f in fired]
    decision.summary = render_summary(decision)
    return decision
