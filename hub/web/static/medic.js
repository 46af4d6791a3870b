// Medic tablet: the review queue, one exam's readings and fired rules, and the decision.
// The medic's API token lives in sessionStorage (this tab only) and goes out as a Bearer header.
// Every text node is set with textContent: exam data never becomes markup.
"use strict";

const TEXT = {
  ru: {
    title: "Планшет медицинского работника", logout: "Выйти", login_title: "Вход",
    login_hint: "Введите ваш API-токен медика. Он хранится только в этой вкладке браузера.",
    token: "API-токен", login: "Войти", queue: "Очередь", history: "Решения", queue_empty: "Очередь пуста.",
    history_hint: "Последние решения (просмотр записывается в журнал доступа).",
    pick: "Выберите осмотр из очереди.", readings: "Показатели", r_field: "Показатель", r_value: "Значение",
    r_unit: "Ед.", r_attempt: "Попытка", r_time: "Время", r_device: "Прибор", fired: "Сработавшие правила",
    answers: "Опрос (жалобы)", earlier: "Решения по этому осмотру", decide: "Решение медицинского работника",
    correct: "Исправление решения", reason: "Основание / причина", referral: "Направление (необязательно)",
    reason_hint: "Обязательна, если решение расходится с решением киоска или исправляет прежнее.",
    notify: "Уведомить работодателя о признаках опьянения (266н)", admit: "Допустить", refuse: "Не допускать",
    admitted: "допущен", not_admitted: "не допущен", needs_medic: "к медику", worker: "Таб. №",
    kiosk: "киоск", waiting: "ждёт", min: "мин", historical: "из архива киоска", yes: "да", no: "нет",
    threshold: "порог", effect: "действие", source: "основание", value: "значение",
    saved_sent: "Решение сохранено и отправлено на киоск.",
    saved_queued: "Решение сохранено; будет отправлено на киоск при восстановлении связи.",
    need_reason: "Укажите причину: она обязательна, если решение расходится с решением киоска или исправляет прежнее.",
    conflict: "Этот осмотр уже решён другим медиком. Откройте его заново и при необходимости исправьте решение.",
    bad_token: "Неизвестный токен.", not_medic: "Этот токен не принадлежит медицинскому работнику.",
    online: "связь с брокером есть", offline: "нет связи с брокером", unpublished: "Решений ждут отправки на киоски:",
    decided_by: "решил(а)", superseded: "заменено", current: "действует", notified: "работодатель уведомлён",
    pre_shift: "предсменный", post_shift: "послесменный", pre_trip: "предрейсовый", post_trip: "послерейсовый",
    in_shift: "внутрисменный", sent: "отправлено", queued: "в очереди на отправку", error: "Ошибка",
  },
  en: {
    title: "Medic tablet", logout: "Log out", login_title: "Log in",
    login_hint: "Enter your medic API token. It is kept in this browser tab only.",
    token: "API token", login: "Log in", queue: "Queue", history: "Decisions", queue_empty: "The queue is empty.",
    history_hint: "Latest decisions (viewing them is written to the access log).",
    pick: "Pick an exam from the queue.", readings: "Readings", r_field: "Reading", r_value: "Value",
    r_unit: "Unit", r_attempt: "Attempt", r_time: "Time", r_device: "Device", fired: "Rules that fired",
    answers: "Survey (complaints)", earlier: "Decisions on this exam", decide: "The medic's decision",
    correct: "Correct the decision", reason: "Grounds / reason", referral: "Referral (optional)",
    reason_hint: "Required when the decision differs from the kiosk's or corrects an earlier one.",
    notify: "Notify the employer of signs of intoxication (266н)", admit: "Admit", refuse: "Do not admit",
    admitted: "admitted", not_admitted: "not admitted", needs_medic: "needs medic", worker: "Personnel no.",
    kiosk: "kiosk", waiting: "waiting", min: "min", historical: "from the kiosk's backlog", yes: "yes", no: "no",
    threshold: "limit", effect: "effect", source: "source", value: "value",
    saved_sent: "Decision saved and sent to the kiosk.",
    saved_queued: "Decision saved; it will be sent to the kiosk when the link is back.",
    need_reason: "Give a reason: it is required when the decision differs from the kiosk's or corrects an earlier one.",
    conflict: "Another medic has already decided this exam. Open it again and correct the decision if needed.",
    bad_token: "Unknown token.", not_medic: "This token does not belong to a medical worker.",
    online: "broker connected", offline: "broker not connected", unpublished: "Decisions waiting to reach kiosks:",
    decided_by: "decided by", superseded: "superseded", current: "in force", notified: "employer notified",
    pre_shift: "pre-shift", post_shift: "post-shift", pre_trip: "pre-trip", post_trip: "post-trip",
    in_shift: "in-shift", sent: "sent", queued: "queued for sending", error: "Error",
  },
};
const FIELDS = {
  systolic_mmhg: { ru: "Систолическое АД", en: "Systolic BP" },
  diastolic_mmhg: { ru: "Диастолическое АД", en: "Diastolic BP" },
  mean_arterial_mmhg: { ru: "Среднее АД", en: "Mean arterial pressure" },
  pulse_bpm: { ru: "Пульс", en: "Pulse" },
  temperature_c: { ru: "Температура тела", en: "Body temperature" },
  spo2_percent: { ru: "Сатурация SpO2", en: "SpO2" },
  brac_mg_l: { ru: "Алкоголь в выдыхаемом воздухе", en: "Breath alcohol" },
};
const UNITS = { mmHg: { ru: "мм рт. ст.", en: "mmHg" }, "1/min": { ru: "уд/мин", en: "/min" },
                "mg/L": { ru: "мг/л", en: "mg/L" }, "°C": { ru: "°C", en: "°C" }, "%": { ru: "%", en: "%" } };

let lang = localStorage.getItem("lang") || "ru";
let token = sessionStorage.getItem("medicToken");
let tab = "queue";
let selected = null;   // event id of the exam on screen
let current = null;    // the exam record on screen
const t = (key) => TEXT[lang][key] ?? key;
const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function num(v, decimals) {
  if (typeof v !== "number") return v === null || v === undefined ? "—" : String(v);
  const s = decimals === undefined ? String(Math.round(v * 1e6) / 1e6) : v.toFixed(decimals);
  return lang === "ru" ? s.replace(".", ",") : s;
}

function value(v) {
  if (v && typeof v === "object" && "systolic_mmhg" in v) return `${num(v.systolic_mmhg)}/${num(v.diastolic_mmhg)}`;
  if (Array.isArray(v)) return v.map(value).join(" → ");
  if (v && typeof v === "object") return JSON.stringify(v);
  return num(v);
}

const when = (iso) => (iso ? new Date(iso).toLocaleString(lang === "ru" ? "ru-RU" : "en-GB") : "—");

class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : (detail && detail.message) || `HTTP ${status}`);
    this.status = status;
    this.field = detail && detail.field;
  }
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${token}`, ...(options.body ? { "Content-Type": "application/json" } : {}) };
  const response = await fetch(path, { ...options, headers });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    if (response.status === 401) logout(t("bad_token"));
    throw new ApiError(response.status, body.detail);
  }
  return body;
}

// ------------------------------------------------------------------ login

function showLogin(message) {
  $("login").hidden = false;
  $("app").hidden = true;
  $("logout").hidden = true;
  $("who").textContent = "";
  $("login-error").textContent = message || "";
}

function logout(message) {
  sessionStorage.removeItem("medicToken");
  token = null;
  selected = current = null;
  showLogin(message);
}

async function start() {
  try {
    await refreshQueue();
  } catch (err) {
    if (err.status === 403) return logout(t("not_medic"));
    if (err.status === 401) return;
    $("login-error").textContent = String(err.message || err);
    return;
  }
  $("login").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = false;
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  token = $("token").value.trim();
  sessionStorage.setItem("medicToken", token);
  $("token").value = "";
  start();
});
$("logout").addEventListener("click", () => logout());

// ------------------------------------------------------------------ lists

function outcomeBadge(outcome) {
  return el("span", t(outcome), `badge ${outcome}`);
}

async function refreshQueue() {
  const data = await api("/api/v1/medic/queue");
  $("queue-count").textContent = String(data.total);
  $("who").textContent = data.medic;
  $("queue-empty").hidden = data.total > 0;
  $("link").textContent = t(data.mqtt_connected ? "online" : "offline");
  $("link").className = `link-state ${data.mqtt_connected ? "ok" : "bad"}`;
  $("unpublished").hidden = !data.unpublished_decisions;
  $("unpublished").textContent = `${t("unpublished")} ${data.unpublished_decisions}`;
  $("queue").replaceChildren(...data.items.map((item) => {
    const li = el("li");
    const button = el("button");
    button.type = "button";
    button.dataset.eventId = item.event_id;
    button.setAttribute("aria-current", String(item.event_id === selected));
    const top = el("span", null, "card-top");
    top.append(el("span", `${t("worker")} ${item.worker_id}`), outcomeBadge(item.outcome));
    const meta = el("span", `${when(item.finished_at)} · ${t(item.exam_type)} · ${t("kiosk")} ${item.kiosk} · `
      + `${t("waiting")} ${Math.round(item.waiting_s / 60)} ${t("min")}${item.historical ? " · " + t("historical") : ""}`);
    const chips = el("span", null, "chips");
    item.fired_rules.forEach((rule) => chips.append(el("span", rule, `chip${item.intoxication && rule.startsWith("alcohol") ? " tox" : ""}`)));
    button.append(top, meta, chips);
    button.addEventListener("click", () => openExam(item.event_id));
    li.append(button);
    return li;
  }));
  return data;
}

async function refreshHistory() {
  const data = await api("/api/v1/medic/decisions?limit=50&order=desc");
  $("history").replaceChildren(...data.items.map((d) => {
    const li = el("li");
    const button = el("button");
    button.type = "button";
    button.dataset.eventId = d.event_id;
    const top = el("span", null, "card-top");
    top.append(el("span", `${t("worker")} ${d.worker_id}`), outcomeBadge(d.decision));
    button.append(top, el("span", `${when(d.decided_at)} · ${t("decided_by")} ${d.medic} · `
      + (d.current ? t("current") : t("superseded")) + ` · ${t(d.published_at ? "sent" : "queued")}`));
    button.addEventListener("click", () => openExam(d.event_id));
    li.append(button);
    return li;
  }));
}

function showTab(name) {
  tab = name;
  document.querySelectorAll(".tab").forEach((b) => b.setAttribute("aria-selected", String(b.dataset.tab === name)));
  $("queue-pane").hidden = name !== "queue";
  $("history-pane").hidden = name !== "history";
  if (name === "history") refreshHistory().catch(showError);
}
document.querySelectorAll(".tab").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));

// ------------------------------------------------------------------ one exam

async function openExam(eventId) {
  selected = eventId;
  document.querySelectorAll("#queue button").forEach((b) => b.setAttribute("aria-current", String(b.dataset.eventId === eventId)));
  current = await api(`/api/v1/medic/exams/${encodeURIComponent(eventId)}`);
  $("decision-result").textContent = "";
  $("decision-result").className = "";
  $("reason").value = "";
  $("referral").value = "";
  renderExam();
}

function reasonText(rule) {
  const found = (current.reasons || []).find((r) => r.rule === rule.rule);
  return found ? found[lang] || found.ru : null;
}

function renderExam() {
  const e = current;
  $("detail-empty").hidden = true;
  $("exam").hidden = false;
  $("exam").dataset.eventId = e.event_id;
  $("exam-title").replaceChildren(el("span", `${t("worker")} ${e.worker_id} · ${t(e.exam_type)} `), outcomeBadge(e.outcome));
  $("exam-meta").textContent = `${when(e.started_at)} – ${when(e.finished_at)} · ${e.site} / ${t("kiosk")} ${e.kiosk}`
    + ` · ${e.rule_set_version}${e.historical ? " · " + t("historical") : ""}`;
  $("exam-summary").textContent = (e.summary && (e.summary[lang] || e.summary.ru)) || "";
  $("exam-summary").hidden = !$("exam-summary").textContent;

  $("readings").tBodies[0].replaceChildren(...e.measurements.map((m) => {
    const tr = el("tr");
    tr.dataset.field = m.field;
    const decimals = m.field === "brac_mg_l" ? 3 : m.field === "temperature_c" ? 1 : undefined;
    const unit = UNITS[m.unit] ? UNITS[m.unit][lang] : m.unit;
    tr.append(el("td", (FIELDS[m.field] || {})[lang] || m.field),
              el("td", m.value === null ? `— (${m.invalid_reason || "invalid"})` : num(m.value, decimals), "value"),
              el("td", unit), el("td", m.attempt), el("td", when(m.taken_at)),
              el("td", [m.device_model, m.device_serial].filter(Boolean).join(" ") || "—"));
    return tr;
  }));

  $("fired").replaceChildren(...e.fired.map((f) => {
    const li = el("li");
    li.dataset.rule = f.rule;
    const head = el("div");
    head.append(el("span", f.rule, "rule"));
    const parts = [];
    if (f.value !== undefined && f.value !== null) parts.push(`${t("value")}: ${value(f.value)}`);
    if (f.threshold) parts.push(`${t("threshold")}: ${f.threshold}`);
    if (f.effect) parts.push(`${t("effect")}: ${t(f.effect)}`);
    head.append(el("span", parts.length ? ` — ${parts.join("; ")}` : ""));
    li.append(head);
    const text = reasonText(f);
    if (text) li.append(el("div", text, "reason"));
    li.append(el("div", `${t("source")}: ${f.source}`, "source"));
    return li;
  }));

  const answers = Object.entries(e.answers || {});
  $("answers").replaceChildren(...answers.map(([k, v]) =>
    el("li", `${k}: ${v === true ? t("yes") : v === false ? t("no") : v ?? "—"}`)));

  $("earlier").hidden = e.decisions.length === 0;
  $("earlier-list").replaceChildren(...e.decisions.map((d) => el("li",
    `${when(d.decided_at)} · ${t(d.decision)} · ${t("decided_by")} ${d.medic}`
    + (d.reason ? ` · «${d.reason}»` : "") + (d.notify_employer ? ` · ${t("notified")}` : "")
    + ` · ${d.current ? t("current") : t("superseded")} · ${t(d.published_at ? "sent" : "queued")}`)));

  $("decide-title").textContent = e.current_decision ? t("correct") : t("decide");
  $("notify").checked = e.current_decision ? e.current_decision.notify_employer : (e.intoxication || e.kiosk_notify_employer);
}

async function decide(decision) {
  const buttons = [$("admit"), $("refuse")];
  buttons.forEach((b) => { b.disabled = true; });
  const result = $("decision-result");
  const body = { decision, reason: $("reason").value.trim() || null, referral: $("referral").value.trim() || null,
                 notify_employer: decision === "not_admitted" ? $("notify").checked : false };
  if (current.current_decision) body.supersedes = current.current_decision.decision_id;
  try {
    const saved = await api(`/api/v1/medic/exams/${encodeURIComponent(current.event_id)}/decision`,
                            { method: "POST", body: JSON.stringify(body) });
    await openExam(current.event_id);
    result.textContent = t(saved.delivery === "sent" ? "saved_sent" : "saved_queued");
    result.className = saved.delivery === "sent" ? "ok" : "queued";
    result.dataset.decisionId = saved.decision_id;
    await refreshQueue();
    if (tab === "history") await refreshHistory();
  } catch (err) {
    result.className = "error";
    result.textContent = err.field === "reason" ? t("need_reason") : err.status === 409 ? t("conflict") : `${t("error")}: ${err.message}`;
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}
$("admit").addEventListener("click", () => decide("admitted"));
$("refuse").addEventListener("click", () => decide("not_admitted"));

function showError(err) {
  $("decision-result").className = "error";
  $("decision-result").textContent = `${t("error")}: ${err.message || err}`;
}

// ------------------------------------------------------------------ language and polling

function applyLanguage() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = t(node.dataset.i18n); });
  document.querySelectorAll("[data-lang]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.lang === lang)));
  if (token && !$("app").hidden) {
    refreshQueue().catch(() => {});
    if (current) renderExam();
    if (tab === "history") refreshHistory().catch(() => {});
  }
}
document.querySelectorAll("[data-lang]").forEach((b) => b.addEventListener("click", () => {
  lang = b.dataset.lang;
  localStorage.setItem("lang", lang);
  applyLanguage();
}));

applyLanguage();
if (token) start(); else showLogin();
setInterval(() => { if (token && !$("app").hidden && tab === "queue") refreshQueue().catch(() => {}); }, 4000);
