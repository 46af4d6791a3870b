/* Kiosk screen: renders the workflow's snapshot, sends taps. Vanilla JS, no network assets. */
"use strict";
(function () {
  const T = {
    ru: {
      title: "Медицинский осмотр", lang: "English",
      idle_h: "Приложите пропуск к считывателю", idle_p: "Поднесите карту к считывателю справа от экрана.",
      pin_btn: "Нет пропуска? Войти по табельному номеру",
      pin_h: "Вход по табельному номеру", number: "Табельный номер", pin: "ПИН-код", enter: "Войти", cancel: "Отмена",
      erase: "Стереть", pin_wrong_pin: "Неверный ПИН-код. Попробуйте ещё раз.", pin_unknown: "Такого табельного номера нет в списке.",
      attempts_left: "Осталось попыток до блокировки:",
      consent_h: "Согласие на осмотр", consent_p: "Осмотр проводится автоматизированно: киоск измерит давление, пульс, температуру, сатурацию и алкоголь в выдыхаемом воздухе. Результаты получит медицинский работник, который принимает решение (ПП 866). Данные — врачебная тайна (323-ФЗ) и персональные данные (152-ФЗ).",
      consent_photo: "Киоск фотографирует вас при входе и во время пробы на алкоголь: фото видит только медицинский работник, чтобы подтвердить личность.",
      consent_yes: "Согласен", consent_no: "Не согласен",
      type_h: "Выберите вид осмотра",
      pre_shift: "Предсменный", post_shift: "Послесменный", pre_trip: "Предрейсовый", post_trip: "Послерейсовый", in_shift: "Внутрисменный",
      yes: "Да", no: "Нет", question: "Вопрос", of: "из",
      fat_h: "Утомление и стресс", fat_note: "Ответы увидит только медицинский работник.",
      measuring_h: "Измерения", remeasure_h: "Повторное измерение", retest_h: "Повторное измерение по графику",
      waiting: "Ожидание", measuring: "Идёт измерение…", done: "Готово", error: "Ошибка",
      how_bp_cuff: "Наденьте манжету на левое плечо, сядьте ровно, не разговаривайте.",
      how_oximeter: "Вставьте указательный палец в пульсоксиметр.",
      how_thermometer: "Поднесите термометр ко лбу на 3–5 см.",
      how_alcotester: "Дождитесь сигнала и ровно дуйте в мундштук 4–5 секунд.",
      name_bp_cuff: "Давление и пульс", name_oximeter: "Сатурация (SpO2)", name_thermometer: "Температура", name_alcotester: "Алкоголь",
      cuff: "Давление в манжете", ph_connecting: "Подключение…", ph_inflating: "Манжета накачивается", ph_deflating: "Манжета сдувается",
      ph_warmup: "Прогрев, подождите", ph_blow: "Дуйте ровно в мундштук", ph_analyzing: "Анализ пробы", ph_done: "Готово", sec: "с",
      remeasure_p: "Измерение не получилось. Сейчас повторим — следуйте инструкции.",
      retest_p: "Отойдите от киоска. Вас вызовут на экране, когда придёт время. Затем снова приложите пропуск.",
      retest_early: "Ещё рано. Повторное измерение —", retest_in: "Повторное измерение —",
      window: "Нужно успеть", ok: "Понятно", ticket: "Талон", in_min: "через {n} мин", in_sec: "через {n} с", until: "до {t}",
      result_h: "Результат осмотра", admitted: "Допущен", not_admitted: "Не допущен", needs_medic: "Ожидайте медика",
      printed: "Талон напечатан — возьмите его.", keep_ticket: "Запомните номер талона: по нему вас вызовут.", not_printed: "Талон не напечатан:", done_btn: "Готово",
      employer: "О результате будет уведомлён работодатель (приказ 266н).",
      msg_unknown_badge: "Пропуск не найден. Обратитесь к медицинскому работнику или войдите по табельному номеру.",
      msg_pin_locked: "Слишком много неверных ПИН-кодов. Вход заблокирован на {n} мин. Обратитесь к дежурному.",
      msg_consent_declined: "Без согласия автоматизированный осмотр невозможен. Пройдите осмотр у медицинского работника.",
      msg_abandoned: "Осмотр прерван. Начните заново, приложив пропуск.",
      msg_kiosk_error: "Сбой киоска. Обратитесь к медицинскому работнику.",
      waiting_list: "Ожидают повтора:", called: "подойдите!", more: "ещё {n}",
      dev_ok: "исправен", dev_fault: "неисправен", dev_connecting: "подключение", dev_disabled: "отключён",
      mmhg: "мм рт. ст.", bpm: "уд/мин", mgl: "мг/л", c: "°C", percent: "%"
    },
    en: {
      title: "Medical examination", lang: "Русский",
      idle_h: "Hold your badge to the reader", idle_p: "Hold the card to the reader to the right of the screen.",
      pin_btn: "No badge? Sign in with your personnel number",
      pin_h: "Sign in with your personnel number", number: "Personnel number", pin: "PIN", enter: "Sign in", cancel: "Cancel",
      erase: "Erase", pin_wrong_pin: "Wrong PIN. Please try again.", pin_unknown: "This personnel number is not on the roster.",
      attempts_left: "Attempts left before the lock:",
      consent_h: "Consent to the examination", consent_p: "The examination is automated: the kiosk measures blood pressure, pulse, temperature, oxygen saturation and breath alcohol. The results go to a medical worker who makes the decision (Government Decree 866). The data are a medical secret (323-FZ) and personal data (152-FZ).",
      consent_photo: "The kiosk takes your photo at sign-in and during the breath test: only the medical worker sees it, to confirm who was examined.",
      consent_yes: "I agree", consent_no: "I do not agree",
      type_h: "Choose the type of examination",
      pre_shift: "Pre-shift", post_shift: "Post-shift", pre_trip: "Pre-trip", post_trip: "Post-trip", in_shift: "In-shift",
      yes: "Yes", no: "No", question: "Question", of: "of",
      fat_h: "Fatigue and stress", fat_note: "Only the medical worker will see your answers.",
      measuring_h: "Measurements", remeasure_h: "Measuring again", retest_h: "Scheduled re-test",
      waiting: "Waiting", measuring: "Measuring…", done: "Done", error: "Error",
      how_bp_cuff: "Put the cuff on your left upper arm, sit straight, do not talk.",
      how_oximeter: "Put your index finger into the pulse oximeter.",
      how_thermometer: "Hold the thermometer 3–5 cm from your forehead.",
      how_alcotester: "Wait for the signal, then blow steadily into the mouthpiece for 4–5 seconds.",
      name_bp_cuff: "Blood pressure and pulse", name_oximeter: "Oxygen saturation (SpO2)", name_thermometer: "Temperature", name_alcotester: "Alcohol",
      cuff: "Cuff pressure", ph_connecting: "Connecting…", ph_inflating: "The cuff is inflating", ph_deflating: "The cuff is deflating",
      ph_warmup: "Warming up, please wait", ph_blow: "Blow steadily into the mouthpiece", ph_analyzing: "Analysing the sample", ph_done: "Done", sec: "s",
      remeasure_p: "The measurement did not work. We will repeat it now — please follow the instructions.",
      retest_p: "Please step aside. You will be called on this screen when it is time; then hold your badge to the reader again.",
      retest_early: "Too early. The re-test starts", retest_in: "The re-test starts",
      window: "It must be done", ok: "OK", ticket: "Ticket", in_min: "in {n} min", in_sec: "in {n} s", until: "by {t}",
      result_h: "Examination result", admitted: "Admitted", not_admitted: "Not admitted", needs_medic: "Wait for the medic",
      printed: "Your slip has been printed — please take it.", keep_ticket: "Remember your ticket number: you will be called by it.", not_printed: "The slip was not printed:", done_btn: "Done",
      employer: "The employer will be notified of the result (order 266n).",
      msg_unknown_badge: "Badge not found. Please see the medical worker or sign in with your personnel number.",
      msg_pin_locked: "Too many wrong PINs. Sign-in is locked for {n} min. Please tell the attendant.",
      msg_consent_declined: "Without consent the automated examination is not possible. Please see the medical worker.",
      msg_abandoned: "The examination was interrupted. Hold your badge to the reader to start again.",
      msg_kiosk_error: "Kiosk failure. Please see the medical worker.",
      waiting_list: "Waiting for a re-test:", called: "please come!", more: "{n} more",
      dev_ok: "ok", dev_fault: "fault", dev_connecting: "connecting", dev_disabled: "off",
      mmhg: "mmHg", bpm: "/min", mgl: "mg/L", c: "°C", percent: "%"
    }
  };
  const SVG = {
    bp_cuff: '<svg viewBox="0 0 48 48" fill="none" stroke="currentColor" stroke-width="3"><rect x="6" y="14" width="22" height="20" rx="4"/><path d="M28 24h6a6 6 0 0 1 6 6v6"/><circle cx="40" cy="40" r="4"/><path d="M11 24h4l2-5 3 10 2-5h3"/></svg>',
    thermometer: '<svg viewBox="0 0 48 48" fill="none" stroke="currentColor" stroke-width="3"><path d="M20 8a4 4 0 0 1 8 0v22a8 8 0 1 1-8 0z"/><path d="M24 18v16"/><path d="M32 12h6M32 18h4M32 24h6"/></svg>',
    oximeter: '<svg viewBox="0 0 48 48" fill="none" stroke="currentColor" stroke-width="3"><rect x="8" y="12" width="32" height="24" rx="8"/><path d="M16 12V8h16v4"/><path d="M14 26h5l2-5 3 9 2-4h8"/></svg>',
    alcotester: '<svg viewBox="0 0 48 48" fill="none" stroke="currentColor" stroke-width="3"><rect x="14" y="16" width="18" height="28" rx="4"/><path d="M20 16V8h6v8"/><rect x="18" y="22" width="10" height="7"/><path d="M34 6c3 2 3 5 0 7M38 3c5 4 5 9 0 13"/></svg>',
    badge: '<svg viewBox="0 0 48 48" fill="none" stroke="currentColor" stroke-width="3"><rect x="8" y="10" width="32" height="28" rx="4"/><circle cx="18" cy="22" r="4"/><path d="M12 32c2-4 10-4 12 0M28 20h8M28 26h8"/><path d="M42 4c3 3 3 8 0 11M37 7c1.5 1.5 1.5 3.5 0 5"/></svg>',
    printer: '<svg viewBox="0 0 48 48" fill="none" stroke="currentColor" stroke-width="3"><rect x="8" y="18" width="32" height="16" rx="3"/><path d="M14 18V8h20v10M14 30h20v12H14z"/></svg>',
    warn: '<svg viewBox="0 0 48 48" fill="none" stroke="currentColor" stroke-width="3"><path d="M24 6 44 42H4z"/><path d="M24 18v12M24 35v2"/></svg>',
    clock: '<svg viewBox="0 0 48 48" fill="none" stroke="currentColor" stroke-width="3"><circle cx="24" cy="24" r="18"/><path d="M24 12v13l8 5"/></svg>',
    other: '<svg viewBox="0 0 48 48" fill="none" stroke="currentColor" stroke-width="3"><rect x="10" y="10" width="28" height="28" rx="4"/></svg>'
  };
  const S = window.KIOSK_SCREENS;
  const DEBOUNCE_MS = 350;
  let lang = null, snap = null, lastScreen = null, pinState = {number: "", pin: "", field: "number"};
  let tappedStep = -1, lastTap = 0, photoTaken = "", langGen = 0, langPending = 0;
  const $ = (id) => document.getElementById(id);
  const t = (k, n) => String((T[lang] && T[lang][k]) || T.ru[k] || k).replace("{n}", n).replace("{t}", n);
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  const tx = (o) => (o && (o[lang] || o.ru)) || "";
  const num = (v, d) => { if (v == null) return "—"; const s = d == null ? String(v) : Number(v).toFixed(d); return lang === "ru" ? s.replace(".", ",") : s; };
  const setHTML = (el, html) => { if (el.dataset.html !== html) { el.innerHTML = html; el.dataset.html = html; } };
  /* a time to wait, as a duration ("через 15 мин"), never a clock-like 15:00 */
  const dur = (s) => { s = Math.max(0, Math.ceil(s)); return s < 60 ? t("in_sec", s) : t("in_min", Math.ceil(s / 60)); };
  const ticket = (v) => v.ticket ? `<div class="ticket" id="ticket">${esc(t("ticket"))} ${esc(v.ticket)}</div>` : "";

  async function post(url, body) {
    const r = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
    if (!r.ok) console.warn("refused", url, body.action || body.stage, r.status);
    return r;
  }
  async function act(action, extra) {
    const r = await post("/api/action", Object.assign({action, step: snap ? snap.step : undefined}, extra || {}));
    if (!r.ok) { tappedStep = -1; $("screen").dataset.html = ""; }  /* refused: the screen takes taps again */
    poll();
  }
  window.kioskAct = act;

  function button(label, action, extra, cls) {
    return `<button type="button" class="${cls || ""}" data-action="${esc(action)}" data-extra='${esc(JSON.stringify(extra || {}))}'>${esc(label)}</button>`;
  }

  function values(kind, v) {
    if (!v) return "";
    if (kind === "bp_cuff") return `${num(v.systolic_mmhg)}/${num(v.diastolic_mmhg)} ${t("mmhg")}, ${num(v.pulse_bpm)} ${t("bpm")}`;
    if (kind === "thermometer") return `${num(v.temperature_c, 1)} ${t("c")}`;
    if (kind === "oximeter") return `SpO2 ${num(v.spo2_percent)} ${t("percent")}`;
    if (kind === "alcotester") return `${num(v.brac_mg_l, 3)} ${t("mgl")}`;
    return "";
  }

  function progress(p) {
    if (!p) return "";
    let out = "";
    const pressure = p.cuff_pressure_mmhg != null ? p.cuff_pressure_mmhg : p.pressure_mmhg;
    if (pressure != null) out += `<div class="how">${t("cuff")}: ${num(Math.round(pressure))} ${t("mmhg")}</div>`;
    if (p.phase) out += `<div class="how"><b>${esc(t("ph_" + p.phase))}</b>${p.seconds ? " " + esc(p.seconds) + " " + esc(t("sec")) : ""}</div>`;
    if (p.progress_percent != null) out += `<div class="bar"><div style="width:${Math.max(0, Math.min(100, p.progress_percent))}%"></div></div>`;
    return out;
  }

  function cards(list) {
    return `<div class="cards">${list.map((c) => `
      <div class="card ${esc(c.state)}" data-kind="${esc(c.kind)}">
        <div class="head">${SVG[c.kind] || SVG.other}<span>${esc(t("name_" + c.kind))}</span></div>
        <div class="how">${esc(t("how_" + c.kind))}</div>
        <div class="how"><b>${esc(t(c.state))}</b></div>
        ${c.state === "measuring" ? progress(c.progress) : ""}
        ${c.state === "done" ? `<div class="val">${esc(values(c.kind, c.values))}</div>` : ""}
        ${c.state === "error" ? `<div class="err">${esc(lang === "en" ? c.message_en : c.message_ru)}</div>` : ""}
      </div>`).join("")}</div>`;
  }

  /* digits, erase, and the letters the roster's personnel numbers start with (W00001, T-1001) */
  function keypad(prefixes) {
    const keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "⌫", "0"].concat(prefixes && prefixes.length ? prefixes : [""]);
    return `<div class="keypad">${keys.map((k) => k === "" ? "<span></span>" : k === "⌫"
      ? `<button type="button" class="erase" data-key="⌫">${esc(t("erase"))}</button>`
      : `<button type="button" class="${/^\d$/.test(k) ? "" : "prefix"}" data-key="${esc(k)}">${esc(k)}</button>`).join("")}</div>`;
  }

  function render() {
    if (!snap) return;
    const v = snap.view, s = v.screen;
    if (s !== S.PIN && lastScreen === S.PIN) pinState = {number: "", pin: "", field: "number"};
    lastScreen = s;
    document.documentElement.lang = lang;
    document.title = t("title");
    $("lang").textContent = t("lang");
    $("title").textContent = t("title");
    let h = "";
    if (s === S.IDLE) {
      h = `<div class="big-icon">${SVG.badge}</div><h1>${esc(t("idle_h"))}</h1><p>${esc(t("idle_p"))}</p>${button(t("pin_btn"), "pin_open", {}, "secondary")}`;
    } else if (s === S.PIN) {
      const err = v.error ? `<p class="error-text" role="alert">${esc(t("pin_" + v.error))}</p>` : "";
      const left = v.attempts_left != null ? `<p class="step" id="attempts-left">${esc(t("attempts_left"))} ${esc(v.attempts_left)}</p>` : "";
      h = `<h2>${esc(t("pin_h"))}</h2><div class="pin"><div class="form">
        <div class="step">${esc(t("number"))}</div><div id="f-number" class="field ${pinState.field === "number" ? "active" : ""}" data-field="number">${esc(pinState.number)}</div>
        <div class="step">${esc(t("pin"))}</div><div id="f-pin" class="field ${pinState.field === "pin" ? "active" : ""}" data-field="pin">${"•".repeat(pinState.pin.length)}</div>
        ${err}${left}<div class="row">${button(t("enter"), "pin_submit")}${button(t("cancel"), "cancel", {}, "secondary")}</div></div>
        ${keypad(v.prefixes)}</div>`;
    } else if (s === S.CONSENT) {
      h = `${ticket(v)}<h1>${esc(t("consent_h"))}</h1><p>${esc(t("consent_p"))}${v.photo_notice ? " " + esc(t("consent_photo")) : ""}</p><div class="row">${button(t("consent_yes"), "consent_accept")}${button(t("consent_no"), "consent_decline", {}, "secondary")}</div>`;
    } else if (s === S.EXAM_TYPE) {
      h = `${ticket(v)}<h1>${esc(t("type_h"))}</h1><div class="row">${v.options.map((o) => button(t(o), "exam_type", {exam_type: o}, o === v.default ? "" : "secondary")).join("")}</div>`;
    } else if (s === S.SURVEY) {
      const q = v.question.id;
      h = `${ticket(v)}<div class="step">${esc(t("question"))} ${v.index + 1} ${esc(t("of"))} ${v.total}</div><h1 data-question="${esc(q)}">${esc(tx(v.question))}</h1>
        <div class="row">${button(t("yes"), "answer", {value: true, question: q}, "yes")}${button(t("no"), "answer", {value: false, question: q}, "no")}</div>${button(t("cancel"), "cancel", {}, "secondary")}${v.devices && v.devices.length ? cards(v.devices.map((c) => ({...c, progress: null}))) : ""}`; /* the cuff measuring meanwhile (no live pressure: the buttons are not redrawn under a finger) */
    } else if (s === S.FATIGUE) {
      /* one item of a validated scale: one button per answer, the paper's verbal anchors under them */
      const it = v.item;
      h = `${ticket(v)}<div class="step">${esc(t("fat_h"))} · ${esc(t("question"))} ${v.index + 1} ${esc(t("of"))} ${v.total}</div>
        ${it.stem ? `<p class="stem">${esc(tx(it.stem))}</p>` : ""}<h1 class="item" data-item="${esc(it.id)}">${esc(tx(it))}</h1>
        <div class="scale">${it.scale.map((o) => button(String(o.value), "fatigue_answer", {item: it.id, points: o.value}, "point")
          + `<span class="anchor">${esc(tx(o))}</span>`).join("")}</div>
        <p class="step">${esc(t("fat_note"))}</p>${button(t("cancel"), "cancel", {}, "secondary")}`;
    } else if (s === S.MEASURING) {
      h = `<div class="row">${ticket(v)}<h2>${esc(v.reason === "first" ? t("measuring_h") : v.reason === "retest" ? t("retest_h") : t("remeasure_h"))}</h2></div>${cards(v.devices)}`;
    } else if (s === S.REMEASURE) {
      h = `<div class="big-icon">${SVG.warn}</div>${ticket(v)}<h1>${esc(t("remeasure_h"))}</h1><p>${esc(t("remeasure_p"))}</p>
        ${(v.errors || []).map((e) => `<p class="error-text">${esc(lang === "en" ? e.en : e.ru)}</p>`).join("")}`;
    } else if (s === S.RETEST_WAIT) {
      h = `<div class="big-icon">${SVG.clock}</div>${ticket(v)}<p>${esc(tx(v.summary).split(". ")[0])}.</p>
        <p>${esc(v.early ? t("retest_early") : t("retest_in"))}</p><div class="countdown" id="countdown">${esc(dur(v.due_in_s))}</div>
        ${v.window_closes_local ? `<p id="window">${esc(t("window"))} ${esc(t("until", v.window_closes_local))}</p>` : ""}
        <p>${esc(t("retest_p"))} ${esc(t("keep_ticket"))}</p>${button(t("ok"), "ok")}`;
    } else if (s === S.RESULT) {
      const pr = v.printed === true ? `<p>${esc(t("printed"))}</p>` : v.printed === false ? `<p class="error-text">${esc(t("not_printed"))} ${esc(tx(v.printer_error))}</p>` : "";
      const reasons = (v.reasons || []).filter((r) => v.outcome !== "admitted" || !/individual|trace/.test(r.rule));
      h = `${ticket(v)}<div class="outcome ${esc(v.outcome)}" id="outcome">${esc(t(v.outcome))}</div>
        <p>${esc(tx(v.summary).split(". ")[0])}</p>
        ${v.outcome !== "admitted" && reasons.length ? `<ul class="reasons">${reasons.map((r) => `<li>${esc(tx(r))}</li>`).join("")}</ul>` : ""}
        ${v.notify_employer ? `<p>${esc(t("employer"))}</p>` : ""}${pr}${button(t("done_btn"), "ok")}`;
    } else if (s === S.MESSAGE) {
      h = `<div class="big-icon">${SVG.warn}</div><h1 class="error-text" role="alert">${esc(t("msg_" + v.kind, v.minutes))}</h1>${button(t("ok"), "ok")}`;
    }
    $("screen").dataset.screen = s;
    $("screen").dataset.step = snap.step;
    setHTML($("screen"), h);
    const devs = Object.entries(snap.devices || {});
    setHTML($("devices"), devs.map(([name, d]) => `<span class="dev ${esc(d.state)}" title="${esc(lang === "en" ? d.message_en : d.message_ru)}">${SVG[d.kind === "badge_reader" ? "badge" : d.kind] || SVG.other}${d.state === "ok" ? "" : esc(t("dev_" + d.state))}</span>`).join(""));
    setHTML($("notices"), (snap.notices || []).map((n) => `<span class="notice ${esc(n.kind)}">${esc(tx(n))}</span>`).join(""));
    const waiting = snap.waiting || [], shown = waiting.slice(0, 4);
    setHTML($("waiting"), waiting.length ? `<span>${esc(t("waiting_list"))}</span> ` + shown.map((w) => `<span class="wait ${w.called ? "called" : ""}">${esc(t("ticket"))} ${esc(w.ticket)} ${w.called ? esc(t("called")) : esc(dur(w.due_in_s))}</span>`).join(" ")
      + (waiting.length > shown.length ? ` <span class="wait">${esc(t("more", waiting.length - shown.length))}</span>` : "") : "");
    photo(v);
  }

  /* identity photo: a still from the kiosk camera when the workflow asks for one */
  async function openCamera() {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}, audio: false});
      const video = $("camera");
      video.srcObject = stream;
      await video.play();
      return video;
    } catch (e) {  /* reported once; the exam goes on without photos */
      post("/api/photo", {stage: (snap && snap.view.photo) || "identification", error: String((e && e.name) || e).slice(0, 200)});
      return null;
    }
  }
  let cameraOpening = null;
  const startCamera = () => cameraOpening || (cameraOpening = openCamera());

  let capturing = false;
  async function photo(v) {
    if (!v.photo || !snap.photo_width_px || capturing) return;
    const key = snap.step + ":" + v.photo;
    if (photoTaken === key) return;
    capturing = true;
    try {
      const video = await startCamera();
      if (!video || !video.videoWidth) return;  /* not ready yet: the next poll tries again */
      const w = snap.photo_width_px, h = Math.round(w * video.videoHeight / video.videoWidth);
      const canvas = document.createElement("canvas");
      canvas.width = w; canvas.height = h;
      canvas.getContext("2d").drawImage(video, 0, 0, w, h);
      let quality = 0.7, data = canvas.toDataURL("image/jpeg", quality);
      while (data.length > 42000 && quality > 0.2) { quality -= 0.15; data = canvas.toDataURL("image/jpeg", quality); }
      photoTaken = key;
      await post("/api/photo", {stage: v.photo, jpeg_b64: data.slice(data.indexOf(",") + 1)});
    } finally { capturing = false; }
  }

  document.addEventListener("click", (ev) => {
    const b = ev.target.closest("button");
    if (!b) { const f = ev.target.closest("[data-field]"); if (f) { pinState.field = f.dataset.field; render(); } return; }
    if (b.id === "lang") {
      lang = lang === "ru" ? "en" : "ru";
      langGen++; langPending++;
      post("/api/action", {action: "language", language: lang}).finally(() => { langPending--; poll(); });
      render(); return;
    }
    if (b.dataset.key) {
      const k = b.dataset.key, f = pinState.field;
      if (k === "⌫") pinState[f] = pinState[f].slice(0, -1);
      else if (!/^\d$/.test(k)) { if (f === "number") pinState.number = (pinState.number + k).slice(0, 16); }
      else pinState[f] = (pinState[f] + k).slice(0, f === "pin" ? 8 : 16);
      render(); return;
    }
    if (b.dataset.action) {
      /* one tap per screen: a double tap or a fast repeat never reaches the next screen */
      const now = Date.now();
      if (now - lastTap < DEBOUNCE_MS || (snap && tappedStep === snap.step && b.dataset.action !== "cancel")) return;
      lastTap = now;
      if (snap) tappedStep = snap.step;
      document.querySelectorAll("#screen button[data-action]").forEach((x) => { if (x.dataset.action !== "cancel") x.disabled = true; });
      const extra = JSON.parse(b.dataset.extra || "{}");
      if (b.dataset.action === "pin_submit") { extra.number = pinState.number; extra.pin = pinState.pin; }
      act(b.dataset.action, extra);
    }
  });

  let inflight = false;
  async function poll() {
    if (inflight) return;
    inflight = true;
    const gen = langGen;
    try {
      const r = await fetch("/api/state", {cache: "no-store"});
      if (r.ok) {
        const s = await r.json();
        /* the server keeps the worker's choice, so it survives a reload (a toggle in flight wins) */
        if (gen === langGen && !langPending) lang = s.language || "ru";
        const stepChanged = !snap || s.step !== snap.step;
        snap = s;
        if (s.photo_width_px) startCamera();  /* warm before the first photo is wanted */
        if (stepChanged) $("screen").dataset.html = "";
        render();
      }
    } catch (e) { /* the agent restarts: keep polling */ }
    inflight = false;
  }
  setInterval(poll, 400);
  poll();
})();
