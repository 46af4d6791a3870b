// OHS dashboard: outcomes and fleet state only (no medical values), refreshed every 3 s.
const TEXT = {
  ru: { title: "Предсменные медосмотры — хаб", kiosks: "Киоски", site: "Площадка", kiosk: "Киоск",
        state: "Состояние", outbox: "Очередь", stored: "Записей на хабе", seen: "Связь", exams: "Последние осмотры",
        time: "Время", worker: "Таб. номер", type: "Вид осмотра", outcome: "Заключение",
        admitted: "допущен", not_admitted: "не допущен", needs_medic: "к медику", online: "на связи", offline: "нет связи",
        pre_shift: "предсменный", post_shift: "послесменный", pre_trip: "предрейсовый", post_trip: "послерейсовый",
        in_shift: "внутрисменный", total: "Всего осмотров" },
  en: { title: "Pre-shift medical exams — hub", kiosks: "Kiosks", site: "Site", kiosk: "Kiosk", state: "State",
        outbox: "Outbox", stored: "Records at hub", seen: "Last seen", exams: "Latest exams", time: "Time",
        worker: "Personnel no.", type: "Exam type", outcome: "Outcome", admitted: "admitted",
        not_admitted: "not admitted", needs_medic: "needs medic", online: "online", offline: "offline",
        pre_shift: "pre-shift", post_shift: "post-shift", pre_trip: "pre-trip", post_trip: "post-trip",
        in_shift: "in-shift", total: "Exams in total" },
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

function applyLanguage() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-lang]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.lang === lang)));
  refresh();
}

document.querySelectorAll("[data-lang]").forEach((b) => b.addEventListener("click", () => {
  lang = b.dataset.lang; localStorage.setItem("lang", lang); applyLanguage();
}));
applyLanguage();
setInterval(refresh, 3000);
