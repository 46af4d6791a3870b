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
    signing: "Подпись", signing_title: "Электронная подпись решений", old_pin: "Прежний PIN",
    new_pin: "Новый PIN (не менее 6 цифр)", new_pin2: "Повторите PIN", enrol: "Создать ключ подписи",
    replace_key: "Заменить ключ подписи", pin: "PIN подписи",
    signing_hint: "Ключ хранится на хабе зашифрованным вашим PIN; каждое решение подписывается им (Ed25519).",
    unsigned_hint: "Ключ подписи не создан: решение будет сохранено без подписи (вкладка «Подпись»).",
    key_none: "Ключ подписи не создан.", key_ok: "Ключ {id} создан {when}.", key_locked: "Ключ заблокирован до {until}.",
    pins_differ: "PIN и повтор не совпадают.", enrolled: "Ключ подписи создан.", need_pin: "Введите PIN подписи.",
    wrong_pin: "Неверный PIN: осталось попыток {n}.", locked: "Ключ заблокирован после неверных PIN; попробуйте позже.",
    sig_valid: "подписано", sig_invalid: "ПОДПИСЬ НЕВЕРНА", sig_unsigned: "без подписи",
    worker_history: "История работника за 90 дней", worker_decisions: "Прежние решения медицинских работников",
    bp: "АД, мм рт. ст., и пульс, уд/мин", sys: "систолическое", dia: "диастолическое", pulse: "пульс",
    temp: "Температура тела, °C", alcohol: "Алкоголь в выдыхаемом воздухе, мг/л", no_history: "нет данных",
    propose_norm: "Предложить норму по истории", approve_norm: "Утвердить норму",
    not_registered: "Работника нет в реестре хаба (ФИО, возраст и норма неизвестны).",
    identity: "{name}, {age} лет, {sex}", male: "муж.", female: "жен.", unknown: "—",
    norm_none: "Индивидуальная норма не утверждена: действуют общие пороги.",
    norm_in_force: "Норма: АД {s}/{d}, пульс {p}; по {n} осмотрам ({from} – {to}); утвердил(а) {who} {when}.",
    norm_proposed: "Предложено: АД {s}/{d}, пульс {p} по {n} осмотрам ({from} – {to}). Утвердить?",
    norm_approved: "Норма утверждена и отправляется на киоски.", norm_label: "норма",
    photos: "Фото с камеры киоска", stage_identification: "при идентификации", stage_breath: "во время пробы на алкоголь",
    complaint: "жалоба", ticket: "талон", from_exam: "по записи осмотра (в реестре хаба нет)",
    risk_title: "Группа профессионального риска (методика, seed 004)",
    risk_head: "{year}: предложена группа {proposed} ({label}), балл {score} из {max}", risk_status_proposed: "ждёт решения врача",
    risk_status_confirmed: "подтверждена: {who}", risk_status_overridden: "изменена на {group}: {who} — «{reason}»",
    criteria: "По критериям", confirm: "Подтвердить", override: "Изменить группу", group_n: "группа",
    plan: "План профилактики", plan_medical: "Медицинские мероприятия", plan_employer: "Работодатель",
    plan_worker: "Работник", plan_treatment: "Лечебно-оздоровительные мероприятия", need_override_reason: "Укажите группу и причину изменения.",
    fatigue: "Утомление и стресс (скрининг при допуске)", fatigue_history: "Скрининг утомления и стресса за 90 дней",
    fatigue_score: "{name}: {score} — {band}", fatigue_cut: "порог ≥ {cut}", fatigue_positive: "положительный скрининг",
    fatigue_negative: "ниже порога", fatigue_subscales: "GAD-2 {gad2}, PHQ-2 {phq2}",
    fatigue_informs: "Результат для медицинского работника: на решение киоска не влиял.",
    fatigue_held: "По настройке киоска положительный скрининг направил работника к медицинскому работнику.",
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
    signing: "Signature", signing_title: "Electronic signature of decisions", old_pin: "Current PIN",
    new_pin: "New PIN (at least 6 digits)", new_pin2: "Repeat the PIN", enrol: "Create a signing key",
    replace_key: "Replace the signing key", pin: "Signing PIN",
    signing_hint: "The key is kept on the hub encrypted under your PIN; every decision is signed with it (Ed25519).",
    unsigned_hint: "No signing key yet: the decision will be saved unsigned (see the Signature tab).",
    key_none: "No signing key yet.", key_ok: "Key {id} created {when}.", key_locked: "The key is locked until {until}.",
    pins_differ: "The PIN and its repetition differ.", enrolled: "Signing key created.", need_pin: "Enter your signing PIN.",
    wrong_pin: "Wrong PIN: {n} attempt(s) left.", locked: "The key is locked after wrong PINs; try again later.",
    sig_valid: "signed", sig_invalid: "SIGNATURE INVALID", sig_unsigned: "unsigned",
    worker_history: "The worker's last 90 days", worker_decisions: "Earlier decisions of medical workers",
    bp: "BP, mmHg, and pulse, /min", sys: "systolic", dia: "diastolic", pulse: "pulse",
    temp: "Body temperature, °C", alcohol: "Breath alcohol, mg/L", no_history: "no data",
    propose_norm: "Propose a norm from the history", approve_norm: "Approve the norm",
    not_registered: "The worker is not in the hub's registry (name, age and norm unknown).",
    identity: "{name}, {age} years, {sex}", male: "male", female: "female", unknown: "—",
    norm_none: "No individual norm approved: the general thresholds apply.",
    norm_in_force: "Norm: BP {s}/{d}, pulse {p}; from {n} exams ({from} – {to}); approved by {who} {when}.",
    norm_proposed: "Proposed: BP {s}/{d}, pulse {p} from {n} exams ({from} – {to}). Approve?",
    norm_approved: "Norm approved; it is on its way to the kiosks.", norm_label: "norm",
    photos: "Kiosk camera photos", stage_identification: "at identification", stage_breath: "during the breath test",
    complaint: "complaint", ticket: "ticket", from_exam: "from the exam record (not in the hub's registry)",
    risk_title: "Occupational risk group (seed 004 methodology)",
    risk_head: "{year}: proposed group {proposed} ({label}), score {score} of {max}", risk_status_proposed: "awaiting the physician",
    risk_status_confirmed: "confirmed: {who}", risk_status_overridden: "changed to {group}: {who} — “{reason}”",
    criteria: "By criterion", confirm: "Confirm", override: "Change the group", group_n: "group",
    plan: "Prevention plan", plan_medical: "Medical measures", plan_employer: "Employer",
    plan_worker: "Worker", plan_treatment: "Treatment and rehabilitation", need_override_reason: "Give the group and the reason for the change.",
    fatigue: "Fatigue and stress (screening at admission)", fatigue_history: "Fatigue and stress screening, last 90 days",
    fatigue_score: "{name}: {score} — {band}", fatigue_cut: "cut-off ≥ {cut}", fatigue_positive: "positive screen",
    fatigue_negative: "below the cut-off", fatigue_subscales: "GAD-2 {gad2}, PHQ-2 {phq2}",
    fatigue_informs: "For the medical worker: it did not affect the kiosk's decision.",
    fatigue_held: "As the kiosk is configured, the positive screen sent the worker to the medical worker.",
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
let signingKey = null; // the medic's key status (GET /api/v1/medic/signing-key)
let workerCard = null; // the registry entry of the worker on screen (GET /api/v1/workers/{n}), null if unknown
let proposal = null;   // a norm proposed and not yet approved
const t = (key, vars) => {
  let s = TEXT[lang][key] ?? key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replace(`{${k}}`, v);
  return s;
};
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
    this.attemptsLeft = detail && detail.attempts_left;
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
  await refreshKey().catch(showError);
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
      + (d.current ? t("current") : t("superseded")) + ` · ${t(d.published_at ? "sent" : "queued")}`),
      signatureBadge(d.signature));
    button.addEventListener("click", () => openExam(d.event_id));
    li.append(button);
    return li;
  }));
}

function signatureBadge(signature) {
  const status = (signature && signature.status) || "unsigned";
  const text = status === "valid" ? `${t("sig_valid")}: ${signature.signer} (${signature.key_id})` : t(`sig_${status}`);
  return el("span", text, `signature sig-${status}`);
}

function showTab(name) {
  tab = name;
  document.querySelectorAll(".tab").forEach((b) => b.setAttribute("aria-selected", String(b.dataset.tab === name)));
  $("queue-pane").hidden = name !== "queue";
  $("history-pane").hidden = name !== "history";
  $("signing-pane").hidden = name !== "signing";
  if (name === "history") refreshHistory().catch(showError);
  if (name === "signing") refreshKey().catch(showError);
}

// ------------------------------------------------------------------ signing key

async function refreshKey() {
  signingKey = await api("/api/v1/medic/signing-key");
  const state = $("key-state");
  if (!signingKey.enrolled) state.textContent = t("key_none");
  else if (signingKey.locked_until && Date.parse(signingKey.locked_until) > Date.now()) {
    state.textContent = t("key_locked", { until: when(signingKey.locked_until) });
  } else state.textContent = t("key_ok", { id: signingKey.key_id, when: when(signingKey.created_at) });
  $("old-pin").hidden = $("old-pin-label").hidden = !signingKey.enrolled;
  $("enrol").textContent = t(signingKey.enrolled ? "replace_key" : "enrol");
  $("pin").hidden = $("pin-label").hidden = !signingKey.enrolled;
  $("unsigned-hint").hidden = signingKey.enrolled;
  return signingKey;
}

$("enrol-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const result = $("enrol-result");
  if ($("new-pin").value !== $("new-pin2").value) {
    result.className = "error";
    result.textContent = t("pins_differ");
    return;
  }
  const body = { pin: $("new-pin").value };
  if (signingKey && signingKey.enrolled) body.old_pin = $("old-pin").value;
  try {
    await api("/api/v1/medic/signing-key", { method: "POST", body: JSON.stringify(body) });
    ["old-pin", "new-pin", "new-pin2"].forEach((id) => { $(id).value = ""; });
    result.className = "ok";
    result.textContent = t("enrolled");
    await refreshKey();
  } catch (err) {
    result.className = "error";
    result.textContent = err.status === 403 ? t("wrong_pin", { n: err.attemptsLeft }) : err.status === 423 ? t("locked") : err.message;
  }
});
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
  await loadWorkerCard(current.worker_id);
  renderWorkerHistory(current.worker_id).catch(showError);
  loadRiskGroups(current.worker_id).catch(showError);
}

async function loadWorkerCard(workerId) {
  proposal = null;
  $("norm-result").textContent = "";
  $("approve-norm").hidden = true;
  try {
    workerCard = await api(`/api/v1/workers/${encodeURIComponent(workerId)}`);
  } catch (err) {
    if (err.status !== 404) throw err;
    workerCard = null;
  }
  renderWorkerCard();
}

async function loadRiskGroups(workerId) {
  const data = await api(`/api/v1/risk-groups/${encodeURIComponent(workerId)}/assessments`);
  if (!current || current.worker_id !== workerId) return;
  $("risk-groups").hidden = data.items.length === 0;
  $("risk-list").replaceChildren(...data.items.slice().reverse().map(riskCard));
}

function riskCard(a) {
  const box = el("div", null, "risk-card");
  box.dataset.assessmentId = a.id;
  const label = a.result && a.result.group_label ? a.result.group_label[lang] : "";
  box.append(el("p", t("risk_head", { year: a.year, proposed: a.proposed_group, label,
                                       score: a.result ? a.result.score : "—", max: a.result ? a.result.score_max : "—" }),
                "risk-head"));
  const criteria = Object.entries(a.criteria_groups || {}).map(([c, g]) => `${c.toUpperCase()}: ${g}`).join(" · ");
  box.append(el("p", `${t("criteria")}: ${criteria} · C7: ${a.c7 ? t("yes") : t("no")} · C8: ${a.c8 ? t("yes") : t("no")}`,
                "muted"));
  const status = a.status === "proposed" ? t("risk_status_proposed")
    : t(`risk_status_${a.status}`, { who: a.physician || "", group: a.final_group, reason: a.reason || "" });
  box.append(el("p", status, `risk-status ${a.status}`));
  if (a.status === "proposed") {
    const row = el("div", null, "buttons norm-buttons");
    const confirm = el("button", t("confirm"), "confirm-group");
    confirm.type = "button";
    confirm.addEventListener("click", () => decideGroup(a, { decision: "confirmed" }));
    const group = el("select", null, "override-group");
    for (let g = 1; g <= 5; g++) { const o = el("option", `${t("group_n")} ${g}`); o.value = String(g); group.append(o); }
    group.value = String(a.proposed_group);
    const reason = el("input", null, "override-reason");
    reason.placeholder = t("reason");
    const change = el("button", t("override"), "override");
    change.type = "button";
    change.addEventListener("click", () => {
      if (!reason.value.trim() || Number(group.value) === a.proposed_group) {
        $("norm-result").className = "error";
        $("norm-result").textContent = t("need_override_reason");
        return;
      }
      decideGroup(a, { decision: "overridden", group: Number(group.value), reason: reason.value.trim() });
    });
    row.append(confirm, group, reason, change);
    box.append(row);
  }
  if (a.plan) box.append(planList(a.plan));
  return box;
}

function planList(plan) {
  const words = lang === "ru" && plan.ru && plan.ru.medical.length ? plan.ru : plan;
  const box = el("div", null, "plan");
  box.append(el("h5", t("plan")));
  for (const [key, title] of [["medical", "plan_medical"], ["employer", "plan_employer"], ["worker", "plan_worker"]]) {
    const ul = el("ul");
    (words[key] || []).forEach((m) => ul.append(el("li", m)));
    box.append(el("strong", t(title)), ul);
  }
  box.append(el("p", `${t("plan_treatment")}: ${words.treatment || plan.treatment}`));
  return box;
}

async function decideGroup(assessment, body) {
  try {
    await api(`/api/v1/risk-groups/assessments/${assessment.id}/decision`, { method: "POST", body: JSON.stringify(body) });
    await loadRiskGroups(current.worker_id);
  } catch (err) {
    $("norm-result").className = "error";
    $("norm-result").textContent = err.message;
  }
}

function sexOf(sex) { return sex === "M" ? t("male") : sex === "F" ? t("female") : t("unknown"); }

function ageOf(birth) {
  if (!birth) return "—";
  const b = new Date(birth + "T00:00:00Z"), now = new Date();
  let age = now.getUTCFullYear() - b.getUTCFullYear();
  if (now.getUTCMonth() < b.getUTCMonth() || (now.getUTCMonth() === b.getUTCMonth() && now.getUTCDate() < b.getUTCDate())) age--;
  return age;
}

function normText(key, n) {
  return t(key, { s: n.systolic_mmhg ?? "—", d: n.diastolic_mmhg ?? "—", p: n.pulse_bpm ?? "—", n: n.n_readings,
                  from: n.computed_from, to: n.computed_to, who: n.approved_by, when: when(n.approved_at) });
}

function renderWorkerCard() {
  $("propose-norm").hidden = !workerCard;
  if (!workerCard) {
    const w = (current && current.worker) || {};
    $("worker-identity").textContent = w.full_name
      ? `${t("identity", { name: w.full_name, age: ageOf(w.birth_date), sex: sexOf(w.sex) })} — ${t("from_exam")}`
      : t("not_registered");
    $("worker-norm").textContent = "";
    return;
  }
  $("worker-identity").textContent = t("identity", { name: workerCard.full_name, age: workerCard.age ?? "—",
                                                     sex: sexOf(workerCard.sex) });
  $("worker-norm").textContent = workerCard.norm_in_force ? normText("norm_in_force", workerCard.norm_in_force)
    : t("norm_none");
}

$("propose-norm").addEventListener("click", async () => {
  try {
    proposal = await api(`/api/v1/workers/${encodeURIComponent(current.worker_id)}/norms`, { method: "POST" });
    $("norm-result").className = "";
    $("norm-result").textContent = normText("norm_proposed", proposal);
    $("approve-norm").hidden = false;
  } catch (err) {
    $("norm-result").className = "error";
    $("norm-result").textContent = err.message;
  }
});

$("approve-norm").addEventListener("click", async () => {
  try {
    workerCard = await api(`/api/v1/workers/${encodeURIComponent(current.worker_id)}/norms/${proposal.id}/approve`,
                           { method: "POST" });
    proposal = null;
    $("approve-norm").hidden = true;
    $("norm-result").className = "ok";
    $("norm-result").textContent = t("norm_approved");
    renderWorkerCard();
    renderWorkerHistory(current.worker_id).catch(showError);
  } catch (err) {
    $("norm-result").className = "error";
    $("norm-result").textContent = err.message;
  }
});

// The norm in force as dashed lines on the BP chart.
function normLines() {
  const norm = workerCard && workerCard.norm_in_force;
  if (!norm || norm.systolic_mmhg == null) return [];
  return [{ label: `${t("sys")}: ${t("norm_label")} ${norm.systolic_mmhg}`, colour: "#c62828", value: norm.systolic_mmhg },
          { label: `${t("dia")}: ${t("norm_label")} ${norm.diastolic_mmhg}`, colour: "#1565c0", value: norm.diastolic_mmhg }];
}

// The worker's last 90 days: the last valid reading of each exam per field, as lines over days
// (a day with several exams shows each), and the earlier decisions of medical workers.
function lastValue(exam, field) {
  const readings = (exam.measurements || []).filter((m) => m.field === field && m.value !== null && m.value !== undefined);
  return readings.length ? readings[readings.length - 1].value : null;
}

async function renderWorkerHistory(workerId) {
  const since = new Date(Date.now() - 90 * 86400000).toISOString();
  const [exams, decisions] = await Promise.all([
    api(`/api/v1/exams?worker_id=${encodeURIComponent(workerId)}&since=${encodeURIComponent(since)}&limit=500&order=asc`),
    api(`/api/v1/medic/decisions?worker_id=${encodeURIComponent(workerId)}&order=desc&limit=50`),
  ]);
  if (!current || current.worker_id !== workerId) return;  // another exam was opened meanwhile
  const items = exams.items;
  const days = items.map((e) => e.finished_at.slice(0, 10));
  const series = (field) => items.map((e) => lastValue(e, field));
  Charts.lines($("chart-bp"), days, [
    { label: t("sys"), colour: "#c62828", values: series("systolic_mmhg") },
    { label: t("dia"), colour: "#1565c0", values: series("diastolic_mmhg") },
    { label: t("pulse"), colour: "#6a1b9a", values: series("pulse_bpm") },
  ], { noData: t("no_history"), yLabel: t("bp"), height: 200, fixed: normLines() });
  Charts.lines($("chart-temp"), days, [{ label: t("temp"), colour: "#ef6c00", values: series("temperature_c") }],
               { noData: t("no_history"), height: 160 });
  Charts.lines($("chart-alcohol"), days, [{ label: t("alcohol"), colour: "#4e342e", values: series("brac_mg_l") }],
               { noData: t("no_history"), height: 160 });
  const screened = items.filter((e) => e.fatigue && e.fatigue.results);
  $("worker-fatigue").hidden = screened.length === 0;
  $("worker-fatigue-list").replaceChildren(...screened.slice().reverse().map((e) => {
    const li = el("li", `${when(e.finished_at)}: `);
    const list = el("ul");
    list.append(...Object.entries(e.fatigue.results).map(([name, r]) => fatigueLine(name, r)));
    li.append(list);
    return li;
  }));
  $("worker-decisions").replaceChildren(...decisions.items.map((d) => {
    const li = el("li", `${when(d.decided_at)} · ${t(d.decision)} · ${t("decided_by")} ${d.medic}`
      + (d.reason ? ` · «${d.reason}»` : "") + " · ");
    li.append(signatureBadge(d.signature));
    return li;
  }));
  if (!decisions.items.length) $("worker-decisions").replaceChildren(el("li", t("no_history"), "muted"));
}

function reasonText(rule) {
  const found = (current.reasons || []).find((r) => r.rule === rule.rule);
  return found ? found[lang] || found.ru : null;
}

// The fatigue / stress screening (seed 002 B.3.3.5; medic only): each instrument's score, band and
// cut-off with its citation, then the items as the worker saw them with the answers tapped.
function fatigueLine(name, r) {
  const li = el("li", t("fatigue_score", { name: r.instrument, score: r.score, band: (r.band && (r.band[lang] || r.band.ru)) || "" })
    + ` (${t("fatigue_cut", { cut: r.cut_off })}${r.gad2 !== undefined ? "; " + t("fatigue_subscales", r) : ""}) — `
    + t(r.positive ? "fatigue_positive" : "fatigue_negative"));
  li.dataset.instrument = name;
  if (r.positive) li.className = "complaint";
  li.title = r.source || "";
  return li;
}

function renderFatigue(f) {
  $("fatigue").hidden = !f;
  if (!f) return;
  $("fatigue-results").replaceChildren(...Object.entries(f.results || {}).map(([name, r]) => {
    const li = fatigueLine(name, r);
    li.append(el("div", `${t("source")}: ${r.source}`, "source"));
    return li;
  }));
  $("fatigue-answers").replaceChildren(...(f.answers || []).map((a) => {
    const label = lang === "en" ? a.answer_en : a.answer_ru;
    const li = el("li", `${lang === "en" ? a.en : a.ru} — ${a.value}${label ? ` (${label})` : ""}`);
    li.dataset.item = a.item;
    return li;
  }));
  $("fatigue-note").textContent = t(f.affects_outcome && f.action === "needs_medic" ? "fatigue_held" : "fatigue_informs");
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

  // the questions as the worker saw them (older records carry the answer ids only)
  const asked = (e.survey && e.survey.length) ? e.survey.map((q) => [q[lang] || q.ru, q.answer, q.complaint])
    : Object.entries(e.answers || {}).map(([k, v]) => [k, v, false]);
  $("answers").replaceChildren(...asked.map(([question, v, complaint]) => {
    const li = el("li", `${question} — ${v === true ? t("yes") : v === false ? t("no") : v ?? "—"}`);
    if (complaint) { li.className = "complaint"; li.append(el("span", ` (${t("complaint")})`)); }
    return li;
  }));
  renderFatigue(e.fatigue);
  const photos = e.identity_photos || [];
  $("photos").hidden = photos.length === 0;
  $("photo-list").replaceChildren(...photos.map((p) => {
    const figure = el("figure");
    const img = el("img");
    img.src = `data:${p.content_type || "image/jpeg"};base64,${p.jpeg_b64}`;
    img.alt = t(`stage_${p.stage}`);
    figure.append(img, el("figcaption", `${t(`stage_${p.stage}`)} · ${when(p.taken_at)}`));
    return figure;
  }));

  $("earlier").hidden = e.decisions.length === 0;
  $("earlier-list").replaceChildren(...e.decisions.map((d) => {
    const li = el("li", `${when(d.decided_at)} · ${t(d.decision)} · ${t("decided_by")} ${d.medic}`
      + (d.reason ? ` · «${d.reason}»` : "") + (d.notify_employer ? ` · ${t("notified")}` : "")
      + ` · ${d.current ? t("current") : t("superseded")} · ${t(d.published_at ? "sent" : "queued")} · `);
    li.append(signatureBadge(d.signature));
    return li;
  }));

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
  if (signingKey && signingKey.enrolled) {
    if (!$("pin").value) {
      result.className = "error";
      result.textContent = t("need_pin");
      buttons.forEach((b) => { b.disabled = false; });
      return;
    }
    body.pin = $("pin").value;
  }
  try {
    const saved = await api(`/api/v1/medic/exams/${encodeURIComponent(current.event_id)}/decision`,
                            { method: "POST", body: JSON.stringify(body) });
    await openExam(current.event_id);
    $("pin").value = "";
    result.textContent = t(saved.delivery === "sent" ? "saved_sent" : "saved_queued");
    result.className = saved.delivery === "sent" ? "ok" : "queued";
    result.dataset.decisionId = saved.decision_id;
    await refreshQueue();
    if (tab === "history") await refreshHistory();
  } catch (err) {
    result.className = "error";
    if (err.field === "pin") {
      result.textContent = err.status === 403 ? t("wrong_pin", { n: err.attemptsLeft }) : err.status === 423 ? t("locked")
        : err.status === 422 ? t("need_pin") : `${t("error")}: ${err.message}`;
    } else {
      result.textContent = err.field === "reason" ? t("need_reason") : err.status === 409 ? t("conflict") : `${t("error")}: ${err.message}`;
    }
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
