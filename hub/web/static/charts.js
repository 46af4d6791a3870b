// Charts of the OHS dashboard on uPlot (vendored: uPlot.iife.min.js, MIT, uPlot.LICENSE.txt; no CDN).
// Each function draws into a container element and replaces what was there; an empty series draws
// a "no data" note instead of an empty frame.
"use strict";

const PALETTE = { admitted: "#2e7d32", not_admitted: "#c62828", needs_medic: "#f9a825", line: "#1565c0",
                  band: "rgba(21,101,192,0.15)", limit: "#c62828", grey: "#777" };
const ZONE_COLOURS = ["#1565c0", "#6a1b9a", "#00838f", "#ef6c00", "#4e342e", "#ad1457", "#2e7d32", "#283593"];

const Charts = (() => {
  const daySeconds = (iso) => Date.parse(iso + "T00:00:00Z") / 1000;

  function clear(container, note) {
    if (container._plot) { container._plot.destroy(); container._plot = null; }
    container.replaceChildren();
    if (note) {
      const p = document.createElement("p");
      p.className = "no-data";
      p.textContent = note;
      container.append(p);
    }
  }

  function size(container, height) {
    return { width: Math.max(320, container.clientWidth || container.parentElement.clientWidth || 800), height };
  }

  const DAY_AXIS = { space: 56, incrs: [86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400, 91 * 86400],
                     values: (u, splits) => splits.map((s) => new Date(s * 1000).toISOString().slice(5, 10).replace("-", ".")
                       .split(".").reverse().join(".")) };

  // A plain legend under the chart: a colour box and a label per visible series (uPlot's own legend would
  // list the interval bounds as series of their own).
  function legend(container, entries) {
    const box = document.createElement("div");
    box.className = "legend";
    for (const { label, colour, dashed } of entries) {
      const item = document.createElement("span");
      const swatch = document.createElement("i");
      swatch.className = dashed ? "swatch dashed" : "swatch";
      swatch.style.borderColor = colour;
      if (!dashed) swatch.style.background = colour;
      item.append(swatch, document.createTextNode(label));
      box.append(item);
    }
    container.append(box);
  }

  function draw(container, opts, data, entries) {
    clear(container);
    container._plot = new uPlot({ ...opts, legend: { show: false }, ...size(container, opts.height || 260) }, data, container);
    legend(container, entries);
    return container._plot;
  }

  // Stacked bars: categories on x (days or names), one series per part; legend shows each part's own value.
  function stackedBars(container, labels, parts, { noData, time = true, height, xLabel } = {}) {
    if (!labels.length) return clear(container, noData);
    const xs = time ? labels.map(daySeconds) : labels.map((_, i) => i);
    const cumulative = [];
    let running = labels.map(() => 0);
    for (const part of parts) {
      running = running.map((v, i) => v + (part.values[i] ?? 0));
      cumulative.push(running.slice());
    }
    const bars = uPlot.paths.bars({ size: [0.7, 60] });
    // drawn from the tallest (sum of all) down, so each part shows as its own slice of the stack
    const order = parts.map((_, i) => parts.length - 1 - i);
    const series = [{ label: xLabel || "", value: (u, v) => (v == null ? "—" : time ? new Date(v * 1000).toISOString().slice(0, 10) : labels[v]) }];
    for (const i of order) {
      const part = parts[i];
      series.push({ label: part.label, fill: part.colour, stroke: part.colour, paths: bars, points: { show: false },
                    value: (u, v, si, idx) => (idx == null ? "—" : String(part.values[idx] ?? "—")) });
    }
    const data = [xs, ...order.map((i) => cumulative[i])];
    const axes = time ? [DAY_AXIS, {}] : [{ values: (u, splits) => splits.map((s) => labels[s] ?? ""), space: 40,
                                            incrs: [1, 2, 5, 10, 20, 50] }, {}];
    const pad = time ? 0.6 * 86400 : 0.6;
    return draw(container, { height, series, axes, scales: {
      x: { time, range: (u, min, max) => [min - pad, max + pad] },
      y: { range: (u, min, max) => [0, Math.max(1, Math.ceil(max * 1.1))] } } }, data,
      parts.map((p) => ({ label: p.label, colour: p.colour })));
  }

  // Lines over days; a line may carry a 95 % interval (lower/upper) drawn as a band, and fixed lines (limits).
  function lines(container, days, lineDefs, { noData, height, yLabel, fixed = [] } = {}) {
    if (!days.length || !lineDefs.some((l) => l.values.some((v) => v != null))) return clear(container, noData);
    const xs = days.map(daySeconds);
    const series = [{}];
    const data = [xs];
    const bands = [];
    for (const def of lineDefs) {
      series.push({ label: def.label, stroke: def.colour, width: 2, spanGaps: false, points: { show: true, size: 5 } });
      data.push(def.values);
      const own = data.length - 1;
      if (def.lower && def.upper) {
        series.push({ label: def.bandLabel || "95 %", stroke: "transparent", points: { show: false } });
        data.push(def.upper);
        series.push({ label: "", stroke: "transparent", points: { show: false } });
        data.push(def.lower);
        bands.push({ series: [own + 1, own + 2], fill: def.band || PALETTE.band });
      }
    }
    for (const line of fixed) {
      series.push({ label: line.label, stroke: line.colour || PALETTE.limit, dash: [6, 4], width: 1.5, points: { show: false } });
      data.push(xs.map(() => line.value));
    }
    const entries = [...lineDefs.map((d) => ({ label: d.label + (d.lower ? ` (${d.bandLabel || "95 %"})` : ""), colour: d.colour })),
                     ...fixed.map((f) => ({ label: f.label, colour: f.colour || PALETTE.limit, dashed: true }))];
    // the data's own span, padded (not stretched to zero): 36.4-37.2 °C stays readable
    const yRange = (u, min, max) => {
      if (min == null || max == null) return [0, 1];
      const pad = Math.max((max - min) * 0.15, Math.abs(max) * 0.02, 0.05);
      return [min >= 0 ? Math.max(0, min - pad) : min - pad, max + pad];
    };
    return draw(container, { height, series, bands, axes: [DAY_AXIS, { label: yLabel || "" }],
                             scales: { y: { range: yRange } } }, data, entries);
  }

  return { stackedBars, lines, clear, daySeconds };
})();

window.Charts = Charts;
window.PALETTE = PALETTE;
window.ZONE_COLOURS = ZONE_COLOURS;
