// OHS dashboard: outcomes and fleet state only (no medical values), refreshed every 3 s.
const TEXT = {
  ru: { title: "Предсменные медосмотры — хаб", kiosks: "Киоски", site: "Площадка", kiosk: "Киоск",
        state: "Состояние", outbox: "Очередь", stored: "Записей на хабе", seen: "Связь", exams: "Последние осмотры",
        time: "Время", worker: "Таб. номер", type: "Вид осмотра", outcome: "Заключение",
        admitted: "допущен", not_admitted: "не допущен", needs_medic: "к медику", online: "на связи", offline: "нет связи",
        pre_shift: "предсменный", post_shift: "послесменный", pre_trip: "предрейсовый", post_trip: "послерейсовый",
        in_shift: "внутрисменный", total: "Всего осмотров",
        analytics: "Производственная среда и эпидемиология", noise_zones: "Шум по зонам (за период)", zone: "Зона",
        laeq: "LAeq, дБА", class: "Класс условий труда", days_over: "Дней выше предела",
        rt_title: "Лихорадящие работники: Rt (95 % ДИ)", window: "Окно", warning: "Раннее предупреждение",
        alarms: "Тревоги", day: "День", kind: "Вид", message: "Сообщение", raised: "объявлено", ended: "было", none: "нет",
        noise_over_limit: "шум", smoke_violation: "курение", rt_warning: "Rt", no_data: "нет данных",
        suppressed: "скрыто: менее {k} случаев (152-ФЗ)" },
  en: { title: "Pre-shift medical exams — hub", kiosks: "Kiosks", site: "Site", kiosk: "Kiosk", state: "State",
        outbox: "Outbox", stored: "Records at hub", seen: "Last seen", exams: "Latest exams", time: "Time",
        worker: "Personnel no.", type: "Exam type", outcome: "Outcome", admitted: "admitted",
        not_admitted: "not admitted", needs_medic: "needs medic", online: "online", offline: "offline",
        pre_shift: "pre-shift", post_shift: "post-shift", pre_trip: "pre-trip", post_trip: "post-trip",
        in_shift: "in-shift", total: "Exams in total",
        analytics: "Working environment and epidemiology", noise_zones: "Noise by zone (over the period)", zone: "Zone",
        laeq: "LAeq, dBA", class: "Working-conditions class", days_over: "Days over the limit",
        rt_title: "Febrile workers: Rt (95 % CrI)", window: "Window", warning: "Early warning", alarms: "Alarms",
        day: "Day", kind: "Kind", message: "Message", raised: "raised", ended: "was raised", none: "none",
        noise_over_limit: "noise", smoke_violation: "smoking", rt_warning: "Rt", no_data: "no data",
        suppressed: "hidden: fewer than {k} cases (152-FZ)" },
};
let lang = localStorage.getItem("lang") || "ru";
const t = (key) => (TEXT[lang][key] ?? key);

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text ?? "—";
  if (cls) td.className = cls;
  return td;
}

async function refresh() {
  try {
    const [kiosks, exams] = await Promise.all([
      fetch("/api/v1/kiosks").then((r) => r.json()),
      fetch("/api/v1/exams?limit=25").then((r) => r.json()),
    ]);
    const kb = document.querySelector("#kiosks tbody");
    kb.replaceChildren(...kiosks.items.map((k) => {
      const tr = document.createElement("tr");
      tr.dataset.kiosk = k.kiosk;
      tr.append(cell(k.site), cell(k.kiosk), cell(t(k.state), k.state), cell(k.outbox_depth),
                cell(k.records_stored), cell(new Date(k.last_seen).toLocaleString(lang)));
      return tr;
    }));
    const eb = document.querySelector("#exams tbody");
    eb.replaceChildren(...exams.items.map((e) => {
      const tr = document.createElement("tr");
      tr.dataset.eventId = e.event_id;
      tr.append(cell(new Date(e.finished_at).toLocaleString(lang)), cell(e.worker_id), cell(t(e.exam_type)),
                cell(e.kiosk), cell(t(e.outcome), e.outcome));
      return tr;
    }));
    document.getElementById("summary").textContent = `${t("total")}: ${exams.total}`;
  } catch (err) {
    document.getElementById("summary").textContent = String(err);
  }
}

function row(cells) {
  const tr = document.createElement("tr");
  tr.append(...cells.map(([text, cls]) => cell(text, cls)));
  return tr;
}

function fill(selector, rows) {
  const body = document.querySelector(selector + " tbody");
  body.replaceChildren(...(rows.length ? rows : [row([[t("no_data")]])]));
}

function warningText(w) {
  const last = (w.episodes || []).slice(-1)[0];
  if (w.active) return `${t("raised")} ${w.raised_on}`;
  if (last) return `${t("ended")}: ${last.raised_on} … ${last.until}`;
  return t("none");
}

// Rt with its interval; a window with too few cases comes suppressed (null values) for the OHS role.
function rtText(estimate, privacy) {
  if (!estimate) return "—";
  if (estimate.suppressed || estimate.mean == null) {
    return t("suppressed").replace("{k}", (privacy && privacy.min_cell_size) || "k");
  }
  return `${estimate.mean.toFixed(2)} (${estimate.lower.toFixed(2)}–${estimate.upper.toFixed(2)})`;
}

// Aggregates only (noise per zone, Rt per site, alarms): precomputed by the hub's analytics runner.
async function refreshAnalytics() {
  const get = (path) => fetch("/api/v1/analytics/" + path).then((r) => (r.ok ? r.json() : null));
  const [zones, rt, alarms] = await Promise.all([get("noise/zones"), get("rt/febrile"), get("alarms?limit=10")]);
  fill("#noise-zones", ((zones && zones.zones) || []).map((z) => {
    const p = z.period || {};
    return row([[lang === "ru" ? (z.name_ru || z.zone) : (z.name_en || z.zone)],
                [p.laeq_db == null ? "—" : p.laeq_db.toFixed(1)], [p.class, p.exceeds_limit ? "not_admitted" : ""],
                [p.days_over_limit]]);
  }));
  fill("#rt", ((rt && rt.sites) || []).map((s) => {
    const last = ((s.rt && s.rt.estimates) || []).slice(-1)[0];
    const w = s.early_warning || {};
    const dates = s.dates || [];
    return row([[s.site], [last ? `${dates[last.t_start - 1] || last.t_start} … ${dates[last.t_end - 1] || last.t_end}` : "—"],
                [rtText(last, rt.privacy)],
                [warningText(w), w.active ? "not_admitted" : (w.raised ? "needs_medic" : "")]]);
  }));
  fill("#alarms", ((alarms && alarms.items) || []).map((a) =>
    row([[a.day], [t(a.kind)], [lang === "ru" ? a.message_ru : a.message_en]])));
}

function applyLanguage() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-lang]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.lang === lang)));
  refresh();
  refreshAnalytics();
}

document.querySelectorAll("[data-lang]").forEach((b) => b.addEventListener("click", () => {
  lang = b.dataset.lang; localStorage.setItem("lang", lang); applyLanguage();
}));
applyLanguage();
setInterval(refresh, 3000);
setInterval(refreshAnalytics, 30000);
