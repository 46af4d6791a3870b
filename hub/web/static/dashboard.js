// OHS dashboard: outcomes, aggregates and fleet state only — no individual medical value is ever requested
// here (the API would not give one to the ohs role either). Russian first, English by the switch.
"use strict";

const TEXT = {
  ru: {
    title: "Предсменные медосмотры — хаб", site: "Площадка", all: "все", from: "с", to: "по",
    tab_overview: "Обзор", tab_journal: "Журнал осмотров", tab_environment: "Шум и курение", tab_epi: "Эпидемиология",
    tab_risk: "Группы риска", tab_fleet: "Киоски", tab_alarms: "Тревоги",
    login_hint: "Введите токен доступа (роль ОТ).", sign_in: "Войти", bad_token: "Токен не подошёл.",
    per_day: "Осмотры и итоговые решения по дням", per_kiosk: "По киоскам", kiosk: "Киоск", total: "Всего",
    admitted: "допущен", not_admitted: "не допущен", needs_medic: "к медику",
    exams_total: "Осмотров за период", admitted_share: "Допущено", not_admitted_n: "Не допущено",
    needs_medic_n: "Ожидают медика", kiosks_online: "Киоски на связи", open_alarms: "Неснятые тревоги",
    worker: "Таб. номер", type: "Вид осмотра", final_outcome: "Итоговое решение", decided_by: "Кем принято",
    pre_decision: "Предварительное (киоск)", time: "Время", apply: "Показать", export_csv: "Выгрузить CSV",
    prev: "← Назад", next: "Далее →", page: "{a}–{b} из {n}", page_est: "{a}–{b} из ≈{n}",
    by_kiosk: "предварительное, киоск", medic: "медработник", exams_found: "Осмотров: {n}",
    pre_shift: "предсменный", post_shift: "послесменный", pre_trip: "предрейсовый", post_trip: "послерейсовый",
    in_shift: "внутрисменный",
    noise_chart: "Шум по зонам: LAeq за день и предел", zone: "Зона", laeq: "LAeq, дБА", limit: "Предел, дБА",
    class: "Класс условий труда", days_over: "Дней выше предела", limit_line: "предел {v} дБА",
    smoke_title: "Курение в местах, где оно запрещено", location: "Место", violations: "Нарушений",
    detector_alarms: "Срабатываний", last: "Последнее",
    febrile_chart: "Доля лихорадящих работников по дням (95 % ДИ)",
    alcohol_chart: "Доля положительных проб на алкоголь по дням (95 % ДИ)", share: "доля",
    rt_title: "Rt лихорадящих работников (95 % ДИ)", window: "Окно", warning: "Раннее предупреждение",
    raised: "объявлено", ended: "было", none: "нет", rt_one: "Rt = 1",
    rt_short: "Для Rt нужно не менее {need} дней ({burn} дней разгона + окно {w}); в периоде {n}.",
    pre_note: "* предварительное решение киоска: заключения медработника по осмотру нет.",
    risk_distribution: "Распределение работников по группам риска", year: "Год", workers: "Работников",
    average: "Средний балл предприятия", group: "группа {g}",
    register_matrix: "Реестр рисков: матрица (вероятность × тяжесть)",
    heatmap_note: "В ячейке: рисков до мер (после мер — в скобках).", measures_title: "Меры по снижению рисков",
    code: "Код", hazard: "Опасность", measure: "Мера", owner: "Ответственный", deadline: "Срок", status: "Статус",
    residual: "Балл → остаточный", planned: "запланирована", in_progress: "выполняется", done: "выполнена",
    overdue: "просрочена", likelihood: "Вероятность", severity: "Тяжесть",
    lk_rare: "редко", lk_unlikely: "маловероятно", lk_possible: "возможно", lk_likely: "вероятно",
    "lk_almost certain": "почти наверняка", sv_negligible: "незначительная", sv_minor: "малая",
    sv_moderate: "умеренная", sv_major: "тяжёлая", sv_catastrophic: "катастрофическая",
    state: "Состояние", outbox: "Очередь", stored: "Записей на хабе", devices: "Устройства",
    versions: "Версии ПО / правил", clock: "Часы, с", seen: "Связь", online: "на связи", offline: "нет связи",
    clock_skew: "расхождение часов", problems: "проблемы",
    only_open: "только неснятые", day: "День", kind: "Вид", message: "Сообщение", alarm_state: "Состояние",
    noise_over_limit: "шум", smoke_violation: "курение", rt_warning: "Rt",
    acknowledge: "Принять", clear: "Снять", state_new: "новая", state_acknowledged: "принята: {who}, {when}",
    state_cleared: "снята: {who}, {when}",
    no_data: "нет данных", loading: "загрузка…", error: "Ошибка: {e}",
    suppressed: "скрыто: менее {k} случаев (152-ФЗ)",
    privacy_note: "Малые ячейки (менее {k} работников) скрыты: 152-ФЗ, 323-ФЗ ст. 13.",
  },
  en: {
    title: "Pre-shift medical exams — hub", site: "Site", all: "all", from: "from", to: "to",
    tab_overview: "Overview", tab_journal: "Exam journal", tab_environment: "Noise and smoking",
    tab_epi: "Epidemiology", tab_risk: "Risk groups", tab_fleet: "Kiosks", tab_alarms: "Alarms",
    login_hint: "Enter an access token (OHS role).", sign_in: "Sign in", bad_token: "The token was not accepted.",
    per_day: "Exams and final outcomes per day", per_kiosk: "Per kiosk", kiosk: "Kiosk", total: "Total",
    admitted: "admitted", not_admitted: "not admitted", needs_medic: "needs medic",
    exams_total: "Exams in the period", admitted_share: "Admitted", not_admitted_n: "Not admitted",
    needs_medic_n: "Waiting for a medic", kiosks_online: "Kiosks online", open_alarms: "Open alarms",
    worker: "Personnel no.", type: "Exam type", final_outcome: "Final outcome", decided_by: "Decided by",
    pre_decision: "Pre-decision (kiosk)", time: "Time", apply: "Show", export_csv: "Export CSV",
    prev: "← Back", next: "Next →", page: "{a}–{b} of {n}", page_est: "{a}–{b} of ≈{n}",
    by_kiosk: "pre-decision, kiosk", medic: "medic", exams_found: "Exams: {n}",
    pre_shift: "pre-shift", post_shift: "post-shift", pre_trip: "pre-trip", post_trip: "post-trip",
    in_shift: "in-shift",
    noise_chart: "Noise by zone: daily LAeq and the limit", zone: "Zone", laeq: "LAeq, dBA", limit: "Limit, dBA",
    class: "Working-conditions class", days_over: "Days over the limit", limit_line: "limit {v} dBA",
    smoke_title: "Smoking where it is forbidden", location: "Location", violations: "Violations",
    detector_alarms: "Detector alarms", last: "Latest",
    febrile_chart: "Share of febrile workers per day (95 % CI)",
    alcohol_chart: "Share of alcohol-positive tests per day (95 % CI)", share: "share",
    rt_title: "Rt of febrile workers (95 % CrI)", window: "Window", warning: "Early warning",
    raised: "raised", ended: "was raised", none: "none", rt_one: "Rt = 1",
    rt_short: "Rt needs at least {need} days (burn-in {burn} + window {w}); the period has {n}.",
    pre_note: "* the kiosk's pre-decision: no medic's conclusion on this exam.",
    risk_distribution: "Workers by risk group", year: "Year", workers: "Workers",
    average: "Enterprise average score", group: "group {g}",
    register_matrix: "Risk register: matrix (likelihood × severity)",
    heatmap_note: "In a cell: risks before measures (after measures in brackets).", measures_title: "Risk-reduction measures",
    code: "Code", hazard: "Hazard", measure: "Measure", owner: "Owner", deadline: "Deadline", status: "Status",
    residual: "Score → residual", planned: "planned", in_progress: "in progress", done: "done",
    overdue: "overdue", likelihood: "Likelihood", severity: "Severity",
    lk_rare: "rare", lk_unlikely: "unlikely", lk_possible: "possible", lk_likely: "likely",
    "lk_almost certain": "almost certain", sv_negligible: "negligible", sv_minor: "minor",
    sv_moderate: "moderate", sv_major: "major", sv_catastrophic: "catastrophic",
    state: "State", outbox: "Outbox", stored: "Records at hub", devices: "Devices",
    versions: "Software / rule set", clock: "Clock, s", seen: "Last seen", online: "online", offline: "offline",
    clock_skew: "clock skew", problems: "problems",
    only_open: "open only", day: "Day", kind: "Kind", message: "Message", alarm_state: "State",
    noise_over_limit: "noise", smoke_violation: "smoking", rt_warning: "Rt",
    acknowledge: "Acknowledge", clear: "Clear", state_new: "new", state_acknowledged: "acknowledged: {who}, {when}",
    state_cleared: "cleared: {who}, {when}",
    no_data: "no data", loading: "loading…", error: "Error: {e}",
    suppressed: "hidden: fewer than {k} cases (152-FZ)",
    privacy_note: "Small cells (fewer than {k} workers) are hidden: 152-FZ, 323-FZ art. 13.",
  },
};
const TABS = ["overview", "journal", "environment", "epi", "risk", "fleet", "alarms"];
const OUTCOMES = ["admitted", "not_admitted", "needs_medic"];
const PAGE = 50;

let lang = localStorage.getItem("lang") || "ru";
let token = sessionStorage.getItem("ohsToken");
let tab = TABS.includes(location.hash.slice(1)) ? location.hash.slice(1) : "overview";
let journalOffset = 0;
const $ = (id) => document.getElementById(id);
const t = (key, vars) => {
  let s = TEXT[lang][key] ?? key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replace(`{${k}}`, v);
  return s;
};

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function row(cells, attrs) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const [text, cls] = Array.isArray(c) ? c : [c];
    if (text instanceof Node) { const td = el("td", null, cls); td.append(text); tr.append(td); } else tr.append(el("td", text ?? "—", cls));
  }
  Object.entries(attrs || {}).forEach(([k, v]) => { tr.dataset[k] = v; });
  return tr;
}

function fill(selector, rows) {
  const body = document.querySelector(selector + " tbody");
  const cols = document.querySelectorAll(selector + " thead th").length || 1;
  if (rows.length) return body.replaceChildren(...rows);
  const td = el("td", t("no_data"), "no-data");
  td.colSpan = cols;
  const tr = document.createElement("tr");
  tr.append(td);
  body.replaceChildren(tr);
}

const num = (v, d = 1) => (typeof v === "number" ? (lang === "ru" ? v.toFixed(d).replace(".", ",") : v.toFixed(d)) : "—");
const pct = (v) => (typeof v === "number" ? `${num(100 * v, 1)} %` : "—");
const when = (iso) => (iso ? new Date(iso).toLocaleString(lang === "ru" ? "ru-RU" : "en-GB") : "—");

class ApiError extends Error {
  constructor(status, detail) { super(typeof detail === "string" ? detail : `HTTP ${status}`); this.status = status; }
}

async function api(path, options = {}) {
  const headers = { ...(token ? { Authorization: `Bearer ${token}` } : {}),
                    ...(options.body ? { "Content-Type": "application/json" } : {}) };
  const response = await fetch(path, { ...options, headers });
  const body = await response.json().catch(() => ({}));
  if (response.status === 401) { showLogin(token ? t("bad_token") : ""); throw new ApiError(401, body.detail); }
  if (!response.ok) throw new ApiError(response.status, body.detail);
  return body;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

// ------------------------------------------------------------------ period and site

function isoDay(d) { return d.toISOString().slice(0, 10); }

let periodTouched = false;  // the header's dates as the user set them (else the default period)

// The analyses' query: none for the default view, so the dashboard reads what the hub's runner has
// precomputed for its default period (lookback up to the newest data) instead of computing on demand.
function analyticsQuery() {
  const p = period();
  if (!periodTouched && !p.site) return "";
  return query(periodTouched ? p : { site: p.site });
}

function period() {
  const to = $("f-to").value || isoDay(new Date());
  const from = $("f-from").value || isoDay(new Date(Date.parse(to) - 29 * 86400000));
  return { site: $("f-site").value || null, date_from: from, date_to: to };
}

async function loadSites() {
  const kiosks = await api("/api/v1/kiosks");
  const sites = [...new Set(kiosks.items.map((k) => k.site))].sort();
  const select = $("f-site");
  const chosen = select.value;
  select.replaceChildren(el("option", t("all")), ...sites.map((s) => el("option", s)));
  select.options[0].value = "";
  select.value = sites.includes(chosen) ? chosen : "";
}

// ------------------------------------------------------------------ overview

function tile(label, value, cls) {
  const box = el("div", null, `tile ${cls || ""}`);
  box.append(el("span", label, "tile-label"), el("strong", value, "tile-value"));
  return box;
}

async function renderOverview() {
  const p = period();
  const [stats, kiosks, alarms] = await Promise.all([
    api("/api/v1/stats/exams" + query(p)), api("/api/v1/kiosks"),
    api("/api/v1/analytics/alarms" + query({ state: "open", limit: 1 })),
  ]);
  const total = stats.total;
  const online = kiosks.items.filter((k) => k.state === "online").length;
  $("tiles").replaceChildren(
    tile(t("exams_total"), total.total),
    tile(t("admitted_share"), total.total ? pct(total.admitted / total.total) : "—", "admitted"),
    tile(t("not_admitted_n"), total.not_admitted, "not_admitted"),
    tile(t("needs_medic_n"), total.needs_medic, "needs_medic"),
    tile(t("kiosks_online"), `${online} / ${kiosks.items.length}`, online < kiosks.items.length ? "offline" : "online"),
    tile(t("open_alarms"), alarms.total, alarms.total ? "not_admitted" : ""),
  );
  const parts = OUTCOMES.map((o) => ({ label: t(o), colour: PALETTE[o], values: stats.by_day.map((d) => d[o]) }));
  Charts.stackedBars($("chart-per-day"), stats.by_day.map((d) => d.date), parts, { noData: t("no_data"), xLabel: t("day") });
  fill("#per-kiosk", stats.by_kiosk.map((k) => row([k.kiosk, k.total, [k.admitted, "admitted"],
    [k.not_admitted, "not_admitted"], [k.needs_medic, "needs_medic"]], { kiosk: k.kiosk })));
  const kioskParts = OUTCOMES.map((o) => ({ label: t(o), colour: PALETTE[o], values: stats.by_kiosk.map((k) => k[o]) }));
  Charts.stackedBars($("chart-per-kiosk"), stats.by_kiosk.map((k) => k.kiosk), kioskParts,
                     { noData: t("no_data"), time: false, height: 200, xLabel: t("kiosk") });
}

// ------------------------------------------------------------------ journal

function journalParams(offset, limit) {
  const p = period();
  return {
    site: p.site, kiosk: $("j-kiosk").value.trim(), worker_id: $("j-worker").value.trim().toUpperCase(),
    final_outcome: $("j-outcome").value, exam_type: $("j-type").value,
    since: `${p.date_from}T00:00:00Z`, until: new Date(Date.parse(p.date_to) + 86400000).toISOString(),
    limit, offset,
  };
}

function decidedBy(e) {
  return e.outcome_source === "medic" ? `${t("medic")} ${e.decided_by}, ${when(e.decided_at)}` : t("by_kiosk");
}

async function renderJournal() {
  const page = await api("/api/v1/exams" + query(journalParams(journalOffset, PAGE)));
  fill("#exams", page.items.map((e) => row([
    when(e.finished_at), e.worker_id, t(e.exam_type), e.kiosk,
    [t(e.final_outcome) + (e.outcome_source === "kiosk" ? " *" : ""), `${e.final_outcome} source-${e.outcome_source}`],
    decidedBy(e), [t(e.outcome), e.outcome],
  ], { eventId: e.event_id })));
  const shown = page.items.length;
  $("summary").textContent = t("exams_found", { n: page.total_estimated ? `≈${page.total}` : page.total });
  $("j-page").textContent = shown ? t(page.total_estimated ? "page_est" : "page",
                                       { a: journalOffset + 1, b: journalOffset + shown, n: page.total }) : "";
  $("j-prev").disabled = journalOffset === 0;
  $("j-next").disabled = page.next_offset == null;
}

const CSV_COLUMNS = ["finished_at", "site", "kiosk", "worker_id", "exam_type", "final_outcome", "outcome_source",
                     "decided_by", "decided_at", "outcome", "event_id"];
const CSV_LIMIT = 10000;

function csvCell(v) {
  const s = v === null || v === undefined ? "" : String(v);
  return /[",\n\r;]/.test(s) || /^[=+\-@]/.test(s) ? `"${s.replace(/^([=+\-@])/, "'$1").replace(/"/g, '""')}"` : s;
}

// Outcomes only (what this role sees); the medical journal with values is the medic's (/api/v1/journal).
async function exportCsv() {
  const lines = [CSV_COLUMNS.join(",")];
  let offset = 0;
  while (offset !== null && offset !== undefined && lines.length <= CSV_LIMIT) {
    const page = await api("/api/v1/exams" + query(journalParams(offset, 1000)));
    for (const e of page.items) lines.push(CSV_COLUMNS.map((c) => csvCell(e[c])).join(","));
    offset = page.next_offset;
  }
  const blob = new Blob(["\ufeff" + lines.join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" });
  const link = el("a");
  link.href = URL.createObjectURL(blob);
  const p = period();
  link.download = `exams_${p.site || "all"}_${p.date_from}_${p.date_to}.csv`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

// ------------------------------------------------------------------ environment

function zoneName(z) { return (lang === "ru" ? z.name_ru : z.name_en) || z.zone; }

async function renderEnvironment() {
  const [zones, smoke] = await Promise.all([api("/api/v1/analytics/noise/zones" + analyticsQuery()),
                                            api("/api/v1/analytics/smoke/violations" + analyticsQuery())]);
  const list = zones.zones || [];
  const days = [...new Set(list.flatMap((z) => z.days.map((d) => d.date)))].sort();
  const lineDefs = list.map((z, i) => {
    const byDay = Object.fromEntries(z.days.map((d) => [d.date, d.laeq_db]));
    return { label: `${z.site} · ${zoneName(z)}`, colour: ZONE_COLOURS[i % ZONE_COLOURS.length],
             values: days.map((d) => byDay[d] ?? null) };
  });
  const limits = [...new Set(list.map((z) => z.limit_db).filter((v) => v != null))];
  Charts.lines($("chart-noise"), days, lineDefs, { noData: t("no_data"), yLabel: "dBA",
    fixed: limits.map((v) => ({ label: t("limit_line", { v }), value: v })) });
  fill("#noise-zones", list.map((z) => {
    const per = z.period || {};
    return row([`${z.site} · ${zoneName(z)}`, num(per.laeq_db), num(z.limit_db, 0),
                [per.class, per.exceeds_limit ? "not_admitted" : ""], per.days_over_limit], { zone: z.zone });
  }));
  const locations = (smoke.sites || []).flatMap((s) => (s.by_location || []).map((l) => ({ site: s.site, ...l })));
  fill("#smoke", locations.map((l) => row([l.site, l.name || l.location, [l.violations, l.violations ? "not_admitted" : ""],
                                           l.alarms, when(l.last)], { location: l.location })));
}

// ------------------------------------------------------------------ epidemiology

function rateLines(rows) {
  const sites = [...new Set(rows.map((r) => r.site))].sort();
  const days = [...new Set(rows.map((r) => r.date))].sort();
  const lines = sites.map((site, i) => {
    const by = Object.fromEntries(rows.filter((r) => r.site === site).map((r) => [r.date, r]));
    const pick = (k) => days.map((d) => (by[d] && by[d][k] != null ? 100 * by[d][k] : null));
    const def = { label: `${site}, %`, colour: ZONE_COLOURS[i % ZONE_COLOURS.length], values: pick("proportion") };
    if (sites.length === 1) Object.assign(def, { lower: pick("lower"), upper: pick("upper") });
    return def;
  });
  return { days, lines };
}

function rtText(estimate, privacy) {
  if (!estimate) return "—";
  if (estimate.suppressed || estimate.mean == null) return t("suppressed", { k: (privacy && privacy.min_cell_size) || "k" });
  return `${num(estimate.mean, 2)} (${num(estimate.lower, 2)}–${num(estimate.upper, 2)})`;
}

function warningText(w) {
  const last = (w.episodes || []).slice(-1)[0];
  if (w.active) return `${t("raised")} ${w.raised_on}`;
  if (last) return `${t("ended")}: ${last.raised_on} … ${last.until}`;
  return t("none");
}

async function renderEpi() {
  const [febrile, alcohol, rt] = await Promise.all([api("/api/v1/analytics/epi/febrile" + analyticsQuery()),
    api("/api/v1/analytics/epi/alcohol" + analyticsQuery()), api("/api/v1/analytics/rt/febrile" + analyticsQuery())]);
  const f = rateLines(febrile.febrile_by_day_site || []);
  Charts.lines($("chart-febrile"), f.days, f.lines, { noData: t("no_data"), yLabel: "%" });
  const a = rateLines(alcohol.alcohol_daily || []);
  Charts.lines($("chart-alcohol"), a.days, a.lines, { noData: t("no_data"), yLabel: "%" });
  const sites = rt.sites || [];
  const withRt = sites.filter((s) => s.rt && s.rt.estimates && s.rt.estimates.length);
  if (withRt.length) {
    const s = withRt[0];
    const days = s.rt.estimates.map((e) => s.dates[e.t_end - 1]);
    Charts.lines($("chart-rt"), days, [{ label: `Rt ${s.site}`, colour: PALETTE.line,
      values: s.rt.estimates.map((e) => e.mean), lower: s.rt.estimates.map((e) => e.lower),
      upper: s.rt.estimates.map((e) => e.upper) }], { noData: t("no_data"), fixed: [{ label: t("rt_one"), value: 1 }] });
  } else {
    const burn = rt.burn_in_days, w = rt.window_days;
    const n = sites.length ? (sites[0].dates || []).length : 0;
    Charts.clear($("chart-rt"), burn != null && w != null && n < burn + w
      ? t("rt_short", { need: burn + w, burn, w, n }) : t("no_data"));
  }
  fill("#rt", sites.map((s) => {
    const last = ((s.rt && s.rt.estimates) || []).slice(-1)[0];
    const w = s.early_warning || {};
    const dates = s.dates || [];
    return row([s.site, last ? `${dates[last.t_start - 1]} … ${dates[last.t_end - 1]}` : "—", rtText(last, rt.privacy),
                [warningText(w), w.active ? "not_admitted" : (w.raised ? "needs_medic" : "")]], { site: s.site });
  }));
  const k = (febrile.privacy && febrile.privacy.min_cell_size) || (rt.privacy && rt.privacy.min_cell_size);
  $("privacy-note").textContent = k ? t("privacy_note", { k }) : "";
}

// ------------------------------------------------------------------ risk groups

async function renderRisk() {
  const [report, register] = await Promise.all([api("/api/v1/risk-groups/report"),
                                                api("/api/v1/risk-register" + query({ site: period().site }))]);
  heatmap(register);
  fill("#measures", measureRows(register));
  const years = Object.keys(report.years || {}).sort();
  const groups = ["1", "2", "3", "4", "5"];
  const colours = ["#2e7d32", "#9e9d24", "#f9a825", "#ef6c00", "#c62828"];
  const parts = groups.map((g, i) => ({ label: t("group", { g }), colour: colours[i],
    values: years.map((y) => (report.years[y].periodic.distribution || {})[g] ?? null) }));
  Charts.stackedBars($("chart-risk"), years, parts, { noData: t("no_data"), time: false, height: 220, xLabel: t("year") });
  fill("#risk-groups", years.map((y) => {
    const p = report.years[y].periodic || {};
    const d = p.distribution || {};
    return row([y, p.workers, ...groups.map((g) => d[g] ?? t("suppressed", { k: (report.privacy || {}).min_cell_size })),
                num(p.average_score, 2)], { year: y });
  }));
}

// Likelihood rows from the most likely down, severity columns left to right; each cell coloured by the
// matrix verdict of the configuration (configs/models/risk_register.toml) and counting the register rows.
function heatmap(register) {
  const m = register.matrix;
  const count = (key) => {
    const n = {};
    for (const r of register.rows) {
      const cell = key === "initial" ? r.cell : r.residual && r.residual.cell;
      if (cell) n[cell] = (n[cell] || 0) + 1;
    }
    return n;
  };
  const before = count("initial"), after = count("residual");
  const table = el("table");
  const head = el("tr");
  head.append(el("th", `${t("likelihood")} ↓ / ${t("severity")} →`));
  m.severity_labels.forEach((label, j) => head.append(el("th", `${j + 1} · ${t("sv_" + label)}`)));
  table.append(head);
  for (let i = m.likelihood_codes.length - 1; i >= 0; i--) {
    const code = m.likelihood_codes[i];
    const tr = el("tr");
    tr.append(el("th", `${code} · ${t("lk_" + m.likelihood_labels[i])}`));
    m.severity_labels.forEach((_, j) => {
      const cell = `${code}${j + 1}`;
      const text = (before[cell] || after[cell]) ? `${before[cell] || 0}${after[cell] ? ` (${after[cell]})` : ""}` : "";
      const td = el("td", text, `level-${m.cells[i][j]}`);
      td.dataset.cell = cell;
      tr.append(td);
    });
    table.append(tr);
  }
  $("heatmap").replaceChildren(table);
}

async function setMeasureStatus(entry, index, status) {
  const stored = await api(`/api/v1/risk-register/${entry.id}`);
  stored.row.measures[index].status = status;
  await api(`/api/v1/risk-register/${entry.id}`, { method: "PUT",
    body: JSON.stringify({ version: stored.version, row: stored.row }) });
  await renderRisk();
}

function measureRows(register) {
  const rows = [];
  for (const r of register.rows) {
    const residual = r.residual ? `${num(r.score, 0)} → ${num(r.residual.score, 0)}` : num(r.score, 0);
    (r.measures.length ? r.measures : [null]).forEach((m, index) => {
      const overdue = m && m.status !== "done" && m.deadline && m.deadline < register.as_of;
      let status = "—";
      if (m) {
        status = el("select");
        status.className = "measure-status";
        for (const s of ["planned", "in_progress", "done"]) {
          const o = el("option", t(s));
          o.value = s;
          status.append(o);
        }
        status.value = m.status;
        status.addEventListener("change", () => setMeasureStatus(r, index, status.value).catch(showError));
      }
      const tr = row([r.code || "—", r.hazard, m ? m.text : "—", (m && m.owner) || r.owner || "—",
                      m && m.deadline ? m.deadline + (overdue ? ` (${t("overdue")})` : "") : "—", status,
                      [residual, `level-${(r.residual || r).cell_level}`]], { rowId: r.id, measure: index });
      if (overdue) tr.classList.add("overdue");
      rows.push(tr);
    });
  }
  return rows;
}

// ------------------------------------------------------------------ fleet

function deviceText(devices) {
  const entries = Object.entries(devices || {});
  if (!entries.length) return "—";
  return entries.map(([name, d]) => `${name}: ${typeof d === "object" && d ? (d.state || d.status || "?") : d}`).join(", ");
}

async function renderFleet() {
  const [kiosks, fleet] = await Promise.all([api("/api/v1/kiosks"), api("/api/v1/fleet").catch(() => ({ items: [] }))]);
  const byKey = Object.fromEntries((fleet.items || []).map((f) => [`${f.site}/${f.kiosk}`, f]));
  fill("#kiosks", kiosks.items.map((k) => {
    const f = byKey[`${k.site}/${k.kiosk}`] || {};
    const versions = [k.versions && k.versions.agent, k.config_version || (f.config && f.config.running_version)]
      .filter(Boolean).join(" / ") || "—";
    const problems = (f.problems || []).map((p) => p.code || p).join(", ");
    return row([k.site, k.kiosk, [t(k.state) + (problems ? ` (${t("problems")}: ${problems})` : ""), k.state],
                k.outbox_depth, k.records_stored, deviceText(k.devices), versions,
                [num(k.clock_offset_s, 1), f.clock_skew ? "not_admitted" : ""], when(k.last_seen)], { kiosk: k.kiosk });
  }));
}

// ------------------------------------------------------------------ alarms

function alarmState(a) {
  if (a.cleared_at) return t("state_cleared", { who: a.cleared_by, when: when(a.cleared_at) });
  if (a.acknowledged_at) return t("state_acknowledged", { who: a.acknowledged_by, when: when(a.acknowledged_at) });
  return t("state_new");
}

async function alarmAction(id, action) {
  await api(`/api/v1/alarms/${id}/${action}`, { method: "POST", body: JSON.stringify({}) });
  await renderAlarms();
}

async function renderAlarms() {
  const open = $("a-open").checked;
  const alarms = await api("/api/v1/analytics/alarms" + query({ state: open ? "open" : null, limit: 200 }));
  fill("#alarms", alarms.items.map((a) => {
    const actions = el("span", null, "actions");
    if (!a.cleared_at) {
      if (!a.acknowledged_at) {
        const ack = el("button", t("acknowledge"), "ack");
        ack.type = "button";
        ack.addEventListener("click", () => alarmAction(a.id, "acknowledge").catch(showError));
        actions.append(ack);
      }
      const clear = el("button", t("clear"), "clear");
      clear.type = "button";
      clear.addEventListener("click", () => alarmAction(a.id, "clear").catch(showError));
      actions.append(clear);
    }
    return row([a.day, t(a.kind), lang === "ru" ? a.message_ru : a.message_en,
                [alarmState(a), a.cleared_at ? "admitted" : a.acknowledged_at ? "needs_medic" : "not_admitted"], actions],
               { alarmId: a.id });
  }));
  updateBadge();
}

async function updateBadge() {
  const open = await api("/api/v1/analytics/alarms" + query({ state: "open", limit: 1 }));
  const badge = $("alarm-badge");
  badge.hidden = !open.total;
  badge.textContent = open.total || "";
}

// ------------------------------------------------------------------ shell

const RENDER = { overview: renderOverview, journal: renderJournal, environment: renderEnvironment, epi: renderEpi,
                 risk: renderRisk, fleet: renderFleet, alarms: renderAlarms };

function showError(err) {
  if (err && err.status === 401) return;
  $("status").textContent = t("error", { e: err && err.message ? err.message : String(err) });
}

async function render() {
  $("status").textContent = "";
  document.querySelectorAll("[data-panel]").forEach((s) => { s.hidden = s.dataset.panel !== tab; });
  document.querySelectorAll("[data-tab]").forEach((b) => b.setAttribute("aria-selected", String(b.dataset.tab === tab)));
  try {
    await RENDER[tab]();
    document.body.dataset.rendered = tab;
  } catch (err) {
    showError(err);
  }
}

function showLogin(message) {
  $("login").hidden = false;
  $("app").hidden = true;
  $("login-error").textContent = message || "";
}

function applyLanguage() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((node) => {
    const badge = node.querySelector("#alarm-badge");
    node.textContent = t(node.dataset.i18n);
    if (badge) node.append(" ", badge);
  });
  document.querySelectorAll("[data-lang]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.lang === lang)));
  render();
}

function wire() {
  document.querySelectorAll("[data-lang]").forEach((b) => b.addEventListener("click", () => {
    lang = b.dataset.lang; localStorage.setItem("lang", lang); applyLanguage();
  }));
  document.querySelectorAll("[data-tab]").forEach((b) => b.addEventListener("click", () => {
    tab = b.dataset.tab; history.replaceState(null, "", `#${tab}`); render();
  }));
  ["f-site", "f-from", "f-to"].forEach((id) => $(id).addEventListener("change", () => {
    if (id !== "f-site") periodTouched = true;
    journalOffset = 0;
    render();
  }));
  $("journal-filters").addEventListener("submit", (ev) => { ev.preventDefault(); journalOffset = 0; render(); });
  $("j-prev").addEventListener("click", () => { journalOffset = Math.max(0, journalOffset - PAGE); render(); });
  $("j-next").addEventListener("click", () => { journalOffset += PAGE; render(); });
  $("j-export").addEventListener("click", () => exportCsv().catch(showError));
  $("a-open").addEventListener("change", render);
  $("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    token = $("token").value.trim();
    sessionStorage.setItem("ohsToken", token);
    $("login").hidden = true;
    $("app").hidden = false;
    start();
  });
}

async function start() {
  if (!$("f-to").value) {  // the period on screen is the period counted: the last 30 days by default
    $("f-to").value = isoDay(new Date());
    $("f-from").value = isoDay(new Date(Date.now() - 29 * 86400000));
  }
  try {
    await loadSites();
  } catch (err) {
    return showError(err);
  }
  applyLanguage();
  updateBadge().catch(() => {});
}

wire();
start();
// live parts refresh on their own; the charts of a period only when asked
setInterval(() => { if (!$("app").hidden && ["overview", "fleet", "alarms"].includes(tab)) render(); }, 10000);
