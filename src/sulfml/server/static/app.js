// sulfml web page: plain JavaScript, no build step. Every value from the server is put into the page as text
// (textContent, setAttribute): never as HTML, so a formula such as <script>…</script> shows as what it is.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const MINUS = "\u2212";
const PALETTE = ["#1d4ed8", "#d97706", "#059669", "#c026d3", "#dc2626", "#0891b2", "#65a30d", "#7c3aed",
  "#db2777", "#475569"];
const NEIGHBOUR_COLOURS = ["#b45309", "#047857", "#7c3aed"];
// A DOI as it appears in citations: "10.", a registrant code, "/", a suffix (which may hold parentheses).
const DOI = /10\.\d{4,9}\/[^\s;,|"'<>\[\]{}]+/g;
const state = { predictions: null, screen: null, about: null };

const $ = (id) => document.getElementById(id);

// An element with attributes and children; strings become text nodes, null/false children are skipped.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

function svgEl(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

function setAttrs(node, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.setAttribute("class", value);
    else if (key === "text") node.textContent = String(value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, String(value));
  }
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

// ---------------------------------------------------------------------------------------------------------
// Numbers

const isNum = (v) => typeof v === "number" && Number.isFinite(v);

function fixed(v, digits) {
  if (!isNum(v)) return "";
  const text = v.toFixed(digits);
  return text.startsWith("-") ? MINUS + text.slice(1) : text;
}

// σ as "5.50 × 10⁻³" (the exponent as a <sup>): returns nodes.
function sigmaNodes(v) {
  if (!isNum(v) || v <= 0) return [""];
  const exp = Math.floor(Math.log10(v));
  const mant = v / Math.pow(10, exp);
  return [`${mant.toFixed(2)} × 10`, el("sup", { text: fixed(exp, 0) })];
}

function signed(v, digits) {
  if (!isNum(v)) return "";
  return (v >= 0 ? "+" : MINUS) + Math.abs(v).toFixed(digits);
}

function short(v) {
  if (!isNum(v)) return "–";
  const a = Math.abs(v);
  if (a !== 0 && (a < 0.01 || a >= 1e4)) return v.toExponential(2).replace("-", MINUS);
  return fixed(v, a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3);
}

function celsius(kelvin) {
  return `${Math.round(kelvin - 273.15)} °C`;
}

// A space group as the server labels it ("Pnma (62)", from the answer's `space_groups`), "" when unknown.
function spaceGroupText(number, labels) {
  if (!isNum(number)) return "";
  return (labels && labels[String(number)]) || `space group ${number}`;
}

// The intervals' coverage as a label ("90 %" for 0.9, as `sulfml.service.output.coverage_label` writes it),
// from the models' card (/api/about, or a screen's answer); "" when the server did not say.
function coverageLabel(coverage) {
  const c = isNum(coverage) ? coverage : state.about && state.about.coverage;
  return isNum(c) ? `${Number((100 * c).toFixed(1))} %` : "";
}

// "90 % interval", or "interval" when the coverage is not known.
function intervalWords(coverage) {
  const label = coverageLabel(coverage);
  return label ? `${label} interval` : "interval";
}

// ---------------------------------------------------------------------------------------------------------
// The server

async function api(path, options) {
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    throw new Error(`cannot reach the server (${err.message})`);
  }
  let body = null;
  try {
    body = await response.json();
  } catch (err) {
    body = null;
  }
  if (!response.ok) {
    const detail = body && typeof body.detail === "string" ? body.detail : `HTTP ${response.status}`;
    throw new Error(detail);
  }
  return body;
}

const postJSON = (path, payload) =>
  api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) });

function setStatus(id, text, isError) {
  const node = $(id);
  node.textContent = text;
  node.classList.toggle("error", Boolean(isError));
}

function busy(button, on, label) {
  button.disabled = on;
  if (on) {
    button.dataset.label = button.textContent;
    button.textContent = label;
  } else if (button.dataset.label) {
    button.textContent = button.dataset.label;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Tabs

function showTab(button) {
  for (const tab of document.querySelectorAll(".tabs button")) {
    const on = tab === button;
    tab.setAttribute("aria-selected", on ? "true" : "false");
    $(tab.dataset.panel).hidden = !on;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Shared cells

function domainCell(row) {
  const warnings = String(row.warning || "").split("; ").filter(Boolean);
  const badge = el("span", { class: `badge ${row.in_domain ? "in" : "out"}`, text: row.in_domain ? "in domain" : "outside" });
  if (!warnings.length) return el("td", {}, badge);
  const details = el("details", { class: "domain", title: warnings.join("\n") },
    el("summary", {}, badge, el("span", { class: "more", text: `${warnings.length} note${warnings.length > 1 ? "s" : ""}` })),
    el("ul", {}, warnings.map((w) => el("li", { text: w }))));
  return el("td", {}, details);
}

// DOI-looking strings anywhere in a value, as links; the rest as text.
function linkedText(value) {
  const text = String(value);
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(DOI)) {
    let doi = match[0];
    // a sentence's full stop, or the closing bracket of "(doi 10.…)", is not part of the DOI
    while (/[.)]$/.test(doi) && (doi.endsWith(".") || count(doi, "(") < count(doi, ")"))) doi = doi.slice(0, -1);
    if (match.index > last) nodes.push(text.slice(last, match.index));
    nodes.push(el("a", { href: `https://doi.org/${encodeURI(doi)}`, target: "_blank", rel: "noopener noreferrer", text: doi }));
    last = match.index + doi.length;
  }
  if (last < text.length) nodes.push(text.slice(last));
  return nodes;
}

function count(text, ch) {
  return text.split(ch).length - 1;
}

// The measurements behind a known material's value: `measurements` ({paper, log10_sigma} objects), or an
// `evidence` list of [paper, log10 σ] pairs.
function evidence(n) {
  let items = Array.isArray(n.measurements) ? n.measurements : n.evidence;
  if (typeof items === "string" && items.trim().startsWith("[")) {
    try { items = JSON.parse(items); } catch (err) { items = [items]; }  // bundles store it as JSON text
  }
  if (!Array.isArray(items)) return [];
  return items.map((e) => Array.isArray(e) ? { paper: e[0], log10_sigma: e[1] }
    : e && typeof e === "object" ? { paper: e.paper ?? e.doi ?? "", log10_sigma: e.log10_sigma } : { paper: e })
    .filter((e) => e.paper !== null && e.paper !== undefined && e.paper !== "");
}

// Every citation of a known material, once: whichever of paper, doi, dois, citations and evidence it has
// (strings, lists, objects).
function citations(n) {
  const out = [];
  const add = (v) => {
    if (v === null || v === undefined || v === "" || typeof v === "number" || typeof v === "boolean") return;
    if (Array.isArray(v)) v.forEach(add);
    else if (typeof v === "object") add(v.doi ?? v.paper ?? v.citation ?? null);
    else if (String(v).includes("|")) add(String(v).split("|"));  // the data's "a|b" lists
    else if (String(v).trim() && !out.includes(String(v).trim())) out.push(String(v).trim());
  };
  for (const key of ["paper", "papers", "doi", "dois", "citations"]) add(n[key]);
  add(evidence(n).map((e) => e.paper));
  return out;
}

function measured(n) {
  if (!isNum(n.log10_sigma)) return "σ not measured";
  return `log10 σ ${n.censored ? "< " : ""}${fixed(n.log10_sigma, 2)}`;
}

// A material's citations, DOIs as links; with `max`, the first few and how many more (the detail and the CSV
// have them all).
function citationNodes(n, max) {
  const all = citations(n);
  const shown = max ? all.slice(0, max) : all;
  const parts = [];
  shown.forEach((c, i) => {
    if (i) parts.push(", ");
    parts.push(...linkedText(c));
  });
  if (shown.length < all.length) parts.push(el("span", { class: "muted", text: ` +${all.length - shown.length} more` }));
  return parts;
}

function neighboursCell(row, labels) {
  const list = el("ul", { class: "neighbours" });
  for (const n of row.neighbors || []) {
    const sep = () => el("span", { class: "sep", text: "·" });
    list.append(el("li", {},
      el("span", { class: "formula", text: n.formula }), sep(), measured(n),
      evidence(n).length > 1 ? ` (median of ${evidence(n).length})` : null,
      isNum(n.ea_eV) ? [sep(), `Ea ${fixed(n.ea_eV, 2)} eV`] : null,
      n.state && n.state !== "unknown" ? [sep(), n.state] : null,
      isNum(n.space_group) ? [sep(), el("span", { class: "space-group", text: spaceGroupText(n.space_group, labels) })] : null,
      citations(n).length ? el("span", { class: "sub cite" }, citationNodes(n, 3)) : null));
  }
  return el("td", { class: "neighbours-cell" }, list);
}

function intervalCell(value, lo, hi, digits) {
  if (!isNum(value)) return el("td", { class: "num" });
  return el("td", { class: "num" }, fixed(value, digits), " ",
    el("span", { class: "interval", text: `[${fixed(lo, digits)}, ${fixed(hi, digits)}]` }));
}

// ---------------------------------------------------------------------------------------------------------
// Predict

async function predictPasted(event) {
  event.preventDefault();
  const formulas = $("formulas").value.split(/\r?\n/).filter((line) => line.trim() !== "");
  if (!formulas.length) {
    setStatus("predict-status", "Paste at least one formula, one per line.", true);
    return;
  }
  const payload = { formulas, temperature_C: $("temperature").value.trim() || null, state: $("state").value || null,
    space_group: $("space-group").value.trim() || null };
  await runPrediction(() => postJSON("/api/predict", payload), `${formulas.length} formula${formulas.length > 1 ? "s" : ""}`);
}

async function predictFile() {
  const file = $("file").files[0];
  if (!file) return;
  const params = new URLSearchParams({ filename: file.name });
  if ($("temperature").value.trim()) params.set("temperature_C", $("temperature").value.trim());
  if ($("state").value) params.set("state", $("state").value);
  if ($("space-group").value.trim()) params.set("space_group", $("space-group").value.trim());
  const request = () => api(`/api/predict/file?${params}`, {
    method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: file });
  await runPrediction(request, file.name);
  $("file").value = "";
}

// One crystal structure: the CIF's bytes as the body, its name, the optional formula (it wins over the CIF's
// composition) and the form's temperature, state and space group as the query.
async function predictCif() {
  const file = $("cif-file").files[0];
  if (!file) return;
  const params = new URLSearchParams({ filename: file.name });
  if ($("cif-formula").value.trim()) params.set("formula", $("cif-formula").value.trim());
  if ($("temperature").value.trim()) params.set("temperature_C", $("temperature").value.trim());
  if ($("state").value) params.set("state", $("state").value);
  if ($("space-group").value.trim()) params.set("space_group", $("space-group").value.trim());
  const request = () => api(`/api/predict/cif?${params}`, {
    method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: file });
  await runPrediction(request, file.name);
  $("cif-file").value = "";
}

async function runPrediction(request, what) {
  const button = $("predict-button");
  busy(button, true, "Predicting…");
  setStatus("predict-status", `Predicting ${what}…`);
  try {
    const started = performance.now();
    const result = await request();
    state.predictions = result;
    renderPredictions(result);
    const seconds = ((performance.now() - started) / 1000).toFixed(2);
    const notes = (result.notes || []).map((n) => ` Note: ${n}.`).join("");
    setStatus("predict-status", `${result.n} row${result.n === 1 ? "" : "s"} in ${seconds} s.${notes}`);
  } catch (err) {
    // a refused request leaves no earlier answer under its message, where it would read as this one's
    state.predictions = null;
    $("results-card").hidden = true;
    $("detail-card").hidden = true;
    setStatus("predict-status", `Not predicted: ${err.message}`, true);
  } finally {
    busy(button, false);
  }
}

function renderPredictions(result) {
  const table = clear($("results"));
  const head = ["#", "Formula", "State", "Basis", "σ (S/cm)", `log10 σ [${intervalWords()}]`, "Ea (eV) [interval]", "T (K)",
    "Domain", "Nearest known", ""];
  const numeric = new Set([4, 5, 6, 7]);
  table.append(el("thead", {}, el("tr", {}, head.map((h, i) => el("th", { class: numeric.has(i) ? "num" : null, text: h })))));
  const body = el("tbody");
  result.rows.forEach((row, i) => body.append(predictionRow(row, i, result.space_groups)));
  table.append(body);
  const failed = result.failed;
  $("results-summary").textContent = `${result.n} row${result.n === 1 ? "" : "s"}` +
    (failed ? `, ${failed} could not be predicted (shown in place)` : ", all predicted");
  $("results-card").hidden = false;
}

function predictionRow(row, i, labels) {
  const input = String(row.input ?? "");
  if (row.error) {
    return el("tr", { class: "error-row", "data-row": i },
      el("td", { class: "num", text: i + 1 }),
      el("td", {}, el("span", { class: "mono", text: input === "" ? "(empty)" : input })),
      el("td", { colspan: 9 }, el("span", { class: "badge error", text: "error" }), " ",
        el("span", { class: "error-text", text: row.error })));
  }
  const formula = el("td", {}, el("span", { class: "formula", text: row.formula }),
    input.trim() !== row.formula ? el("span", { class: "sub", text: `from ${input}` }) : null);
  const button = el("button", { type: "button", class: "ghost small details-button", text: "Details",
    onclick: () => openDetail(row, labels) });
  const spaceGroup = spaceGroupText(row.space_group, labels);
  return el("tr", { "data-row": i },
    el("td", { class: "num", text: i + 1 }), formula,
    el("td", { class: "state-cell" },
      row.state ? el("span", { class: "badge state", text: row.state }) : el("span", { class: "muted", text: "–" }),
      spaceGroup ? [el("br"), el("span", { class: "badge space-group", title: "space group", text: spaceGroup })] : null),
    basisCell(row),
    el("td", { class: "num" }, sigmaNodes(row.sigma_S_cm)),
    intervalCell(row.log10_sigma, row.log10_sigma_lo, row.log10_sigma_hi, 2),
    intervalCell(row.ea_eV, row.ea_lo, row.ea_hi, 3),
    el("td", { class: "num", text: isNum(row.temperature_K) ? row.temperature_K.toFixed(1) : "" }),
    domainCell(row), neighboursCell(row, labels), el("td", {}, button));
}

// Where an answer comes from (`basis`): the model alone, or a known material's own measurements.
const BASIS_TITLES = {
  model: "the material is not in the training data: the model's answer",
  measured: "the material's papers alone fix the value (one paper, or papers that agree)",
  "measured+model": "the material's papers, combined with the model by the known-first rule",
};

function measuredText(row) {
  if (!row.measured_n_papers) return "";
  const n = row.measured_n_papers;
  const range = Array.isArray(row.measured_range) && n > 1
    ? ` (${fixed(row.measured_range[0], 2)} to ${fixed(row.measured_range[1], 2)})` : "";
  const ea = isNum(row.measured_ea_eV) ? `, Ea ${fixed(row.measured_ea_eV, 2)} eV` : "";
  return `measured log10 σ ${fixed(row.measured_log10_sigma, 2)}, ${n > 1 ? `median of ${n} papers` : "one paper"}${range}${ea}`;
}

function basisCell(row) {
  const basis = row.basis || "model";
  const title = [BASIS_TITLES[basis] || basis, measuredText(row)].filter(Boolean).join(": ");
  const n = row.measured_n_papers;
  const short = n ? `${fixed(row.measured_log10_sigma, 2)} · ${n} paper${n === 1 ? "" : "s"}` : "";
  return el("td", { title }, el("span", { class: `badge basis ${basis === "model" ? "model" : "measured"}`, text: basis }),
    n ? el("span", { class: "sub", text: short }) : null);
}

// ---------------------------------------------------------------------------------------------------------
// CSV downloads

function csvCell(value, labels) {
  if (value === null || value === undefined) return "";
  let text;
  if (typeof value === "number") return String(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  if (Array.isArray(value) && value.every((v) => v && typeof v === "object" && "formula" in v)) {
    // as `sulfml predict` writes the cell, plain ASCII numbers, with each material's citations
    const plain = (n) => isNum(n.log10_sigma) ? `log10 σ ${n.censored ? "< " : ""}${n.log10_sigma.toFixed(2)}` : "σ unknown";
    // with its state, as `sulfml predict` writes it: Li6PS5Cl (unknown, ...) and Li6PS5Cl (crystalline, ...)
    // and its space group, as `sulfml predict` writes it: Li3PS4 (crystalline, Pnma (62), log10 σ ...)
    const group = (n) => isNum(n.space_group) ? spaceGroupText(n.space_group, labels) + ", " : "";
    text = value.map((n) => `${n.formula} (${n.state ? n.state + ", " : ""}${group(n)}${plain(n)}` +
      `${citations(n).length ? "; " + citations(n).join(", ") : ""})`).join("; ");
  } else {
    text = typeof value === "object" ? JSON.stringify(value) : String(value);
  }
  // a text cell a spreadsheet would run as a formula (=, +, -, @) is kept as text
  if (/^[=+\-@\t\r]/.test(text)) text = "'" + text;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function downloadCSV(columns, rows, name, labels) {
  const lines = [columns.map((c) => csvCell(c)).join(",")];
  for (const row of rows) lines.push(columns.map((c) => csvCell(row[c], labels)).join(","));
  const blob = new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" });
  const link = el("a", { href: URL.createObjectURL(blob), download: name });
  document.body.append(link);
  link.click();
  // the browser reads the blob after the click returns: freeing it at once can cancel the download
  setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 30000);
}

// ---------------------------------------------------------------------------------------------------------
// Plots (inline SVG)

function niceTicks(lo, hi, count) {
  const span = hi - lo || 1;
  const raw = span / Math.max(count, 1);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= count) || 10 * mag;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toFixed(10)));
  return ticks;
}

// Axes in a fresh SVG; returns the SVG and the two scales.
function axes(box, opts) {
  const { width, height, margin, x, y, xLabel, yLabel } = opts;
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": opts.label });
  const sx = (v) => margin.left + (v - x[0]) / (x[1] - x[0]) * (width - margin.left - margin.right);
  const sy = (v) => height - margin.bottom - (v - y[0]) / (y[1] - y[0]) * (height - margin.top - margin.bottom);
  const grid = svgEl("g", { class: "grid" });
  for (const t of niceTicks(y[0], y[1], 6)) {
    grid.append(svgEl("line", { x1: margin.left, x2: width - margin.right, y1: sy(t), y2: sy(t), stroke: "#e4e7eb" }));
    grid.append(svgEl("text", { x: margin.left - 6, y: sy(t) + 4, "text-anchor": "end", "font-size": 11, fill: "#52606d", text: fixed(t, Number.isInteger(t) ? 0 : 1) }));
  }
  for (const t of niceTicks(x[0], x[1], opts.xTicks || 7)) {
    grid.append(svgEl("line", { x1: sx(t), x2: sx(t), y1: height - margin.bottom, y2: height - margin.bottom + 4, stroke: "#9aa5b1" }));
    grid.append(svgEl("text", { x: sx(t), y: height - margin.bottom + 16, "text-anchor": "middle", "font-size": 11, fill: "#52606d", text: opts.xFormat ? opts.xFormat(t) : String(t) }));
  }
  svg.append(grid);
  svg.append(svgEl("rect", { x: margin.left, y: margin.top, width: width - margin.left - margin.right,
    height: height - margin.top - margin.bottom, fill: "none", stroke: "#9aa5b1" }));
  svg.append(svgEl("text", { x: (margin.left + width - margin.right) / 2, y: height - 6, "text-anchor": "middle", "font-size": 12, fill: "#334e68", text: xLabel }));
  svg.append(svgEl("text", { x: 14, y: (margin.top + height - margin.bottom) / 2, "text-anchor": "middle", "font-size": 12, fill: "#334e68",
    transform: `rotate(-90 14 ${(margin.top + height - margin.bottom) / 2})`, text: yLabel }));
  clear(box).append(svg);
  return { svg, sx, sy };
}

function pathOf(points) {
  return points.map(([px, py], i) => `${i ? "L" : "M"}${px.toFixed(1)},${py.toFixed(1)}`).join(" ");
}

// The legend under a plot, as HTML (it never hides data): a small SVG swatch and the label per item.
function legend(box, items) {
  const list = el("ul", { class: "legend" });
  for (const item of items) {
    const swatch = svgEl("svg", { width: 22, height: 12, viewBox: "0 0 22 12", "aria-hidden": "true" });
    if (item.kind === "band") swatch.append(svgEl("rect", { x: 1, y: 1, width: 20, height: 10, fill: item.colour, "fill-opacity": 0.22 }));
    else if (item.kind === "line") swatch.append(svgEl("line", { x1: 1, x2: 21, y1: 6, y2: 6, stroke: item.colour, "stroke-width": 2.2, "stroke-dasharray": item.dash || null }));
    else {
      if (item.dash) swatch.append(svgEl("line", { x1: 1, x2: 21, y1: 6, y2: 6, stroke: item.colour, "stroke-width": 1.3, "stroke-dasharray": "4 3" }));
      swatch.append(marker(item.kind, 11, 6, item.colour));
    }
    list.append(el("li", {}, swatch, el("span", { text: item.label })));
  }
  box.append(list);
}

function marker(kind, cx, cy, colour) {
  if (kind === "diamond") return svgEl("path", { d: `M${cx},${cy - 5} L${cx + 5},${cy} L${cx},${cy + 5} L${cx - 5},${cy} Z`, fill: colour, stroke: "white", "stroke-width": 1 });
  if (kind === "triangle") return svgEl("path", { d: `M${cx - 5},${cy - 4} L${cx + 5},${cy - 4} L${cx},${cy + 5} Z`, fill: "white", stroke: colour, "stroke-width": 1.6 });
  if (kind === "ring") return svgEl("circle", { cx, cy, r: 4.5, fill: "none", stroke: colour, "stroke-width": 1.4 });
  return svgEl("circle", { cx, cy, r: 4.5, fill: colour, stroke: "white", "stroke-width": 1.2 });
}

// °C along the top axis of an Arrhenius plot (x = 1000/T, top margin 34), where readers look for temperatures
function celsiusTicks(svg, sx, x0, x1) {
  for (const c of [800, 600, 400, 300, 200, 150, 100, 50, 25, 0]) {
    const inv = 1000 / (c + 273.15);
    if (inv < x0 || inv > x1) continue;
    svg.append(svgEl("line", { x1: sx(inv), x2: sx(inv), y1: 34, y2: 30, stroke: "#9aa5b1" }));
    svg.append(svgEl("text", { x: sx(inv), y: 26, "text-anchor": "middle", "font-size": 10, fill: "#7b8794", text: `${c} °C` }));
  }
}

function drawArrhenius(result) {
  const box = $("arrhenius-plot");
  const curve = result.arrhenius.filter((p) => isNum(p.log10_sigma));
  const neighbours = result.neighbors || [];
  const xs = curve.map((p) => p.inv_T);
  const ys = curve.flatMap((p) => [p.lo, p.hi]).concat(neighbours.filter((n) => isNum(n.log10_sigma)).map((n) => n.log10_sigma));
  const xPad = (Math.max(...xs) - Math.min(...xs)) * 0.04;
  const yPad = Math.max(0.3, (Math.max(...ys) - Math.min(...ys)) * 0.08);
  const { svg, sx, sy } = axes(box, {
    width: 620, height: 400, margin: { top: 34, right: 18, bottom: 44, left: 58 },
    x: [Math.min(...xs) - xPad, Math.max(...xs) + xPad], y: [Math.min(...ys) - yPad, Math.max(...ys) + yPad],
    xLabel: "1000 / T (K⁻¹)", yLabel: "log10 σ (S/cm)", label: "Arrhenius plot of the prediction", xFormat: (t) => t.toFixed(1),
  });
  celsiusTicks(svg, sx, Math.min(...xs) - xPad, Math.max(...xs) + xPad);
  const band = curve.map((p) => [sx(p.inv_T), sy(p.hi)]).concat(curve.slice().reverse().map((p) => [sx(p.inv_T), sy(p.lo)]));
  svg.append(svgEl("path", { d: pathOf(band) + " Z", fill: "#1d4ed8", "fill-opacity": 0.16, stroke: "none", class: "band" }));
  svg.append(svgEl("path", { d: pathOf(curve.map((p) => [sx(p.inv_T), sy(p.log10_sigma)])), fill: "none", stroke: "#1d4ed8", "stroke-width": 2.4, class: "prediction" }));
  const items = [{ kind: "line", colour: "#1d4ed8", label: "prediction" }, { kind: "band", colour: "#1d4ed8", label: intervalWords() }];
  neighbours.forEach((n, i) => {
    if (!isNum(n.log10_sigma)) return;
    const colour = NEIGHBOUR_COLOURS[i % NEIGHBOUR_COLOURS.length];
    if (n.line) svg.append(svgEl("path", { d: pathOf(n.line.map((p) => [sx(p.inv_T), sy(p.log10_sigma)])), stroke: colour, "stroke-width": 1.3, "stroke-dasharray": "5 4", fill: "none", "stroke-opacity": 0.8 }));
    const m = marker(n.censored ? "triangle" : "diamond", sx(n.inv_T), sy(n.log10_sigma), colour);
    m.setAttribute("class", "neighbour-point");
    m.append(svgEl("title", { text: `${n.formula}: measured ${measured(n)}` }));
    svg.append(m);
    items.push({ kind: n.censored ? "triangle" : "diamond", colour, dash: n.line ? "5 4" : null,
      label: `${n.formula}, measured${n.line ? " σ and Ea" : " σ"}` });
  });
  const row = result.row;
  if (isNum(row.log10_sigma) && isNum(row.temperature_K)) {
    const px = sx(1000 / row.temperature_K);
    const py = sy(row.log10_sigma);
    svg.append(svgEl("line", { x1: px, x2: px, y1: sy(row.log10_sigma_lo), y2: sy(row.log10_sigma_hi), stroke: "#102a43", "stroke-width": 1.6 }));
    const dot = svgEl("circle", { cx: px, cy: py, r: 5.5, fill: "#102a43", stroke: "white", "stroke-width": 1.5, class: "requested" });
    dot.append(svgEl("title", { text: `${row.temperature_K.toFixed(1)} K: log10 σ ${fixed(row.log10_sigma, 2)}` }));
    svg.append(dot);
    items.push({ kind: "circle", colour: "#102a43", label: `at ${celsius(row.temperature_K)}` });
  }
  legend(box, items);
}

// ---------------------------------------------------------------------------------------------------------
// Detail

// The detail of a table row: its curve, neighbours and "why" come from /api/detail (the same formula, state
// and space group; a CIF row by the formula the structure gave), its space group, BVSE cross-check and notes
// from the row itself (the CIF is not sent again).
async function openDetail(row, labels) {
  const card = $("detail-card");
  card.hidden = false;
  $("detail-title").textContent = row.formula || row.input;
  $("detail-summary").textContent = "loading…";
  clear($("arrhenius-plot"));
  clear($("why"));
  clear($("neighbors"));
  renderFacts(row, labels);
  card.scrollIntoView({ behavior: "smooth", block: "start" });
  const temperature = isNum(row.temperature_K) ? Number((row.temperature_K - 273.15).toFixed(4)) : null;
  // a CIF uploaded without a formula: its input is the file's name, its formula the structure's composition
  const formula = row.input_cif !== undefined && row.input === row.input_cif ? row.formula : row.input;
  try {
    const result = await postJSON("/api/detail", { formula, temperature_C: temperature, state: row.state || null,
      space_group: isNum(row.space_group) ? row.space_group : null });
    renderDetail(result, row, labels);
  } catch (err) {
    $("detail-summary").textContent = `Not available: ${err.message}`;
  }
}

// The row's space group, the bond-valence (BVSE) cross-check beside the ML prediction when the row has one
// (a CIF row), and the row's notes.
function renderFacts(row, labels) {
  const facts = clear($("detail-facts"));
  const sg = spaceGroupText(row.space_group, labels);
  fact(facts, "Space group", sg || el("span", { class: "muted", text: "not known" }));
  if (isNum(row.log10_sigma)) {
    fact(facts, "ML prediction", `log10 σ ${fixed(row.log10_sigma, 2)} [${fixed(row.log10_sigma_lo, 2)}, ` +
      `${fixed(row.log10_sigma_hi, 2)}] · Ea ${fixed(row.ea_eV, 3)} eV`);
  }
  if (isNum(row.bvse_barrier_eV)) {
    fact(facts, "BVSE 3D Li barrier, eV", el("span", { class: "bvse-barrier", text: fixed(row.bvse_barrier_eV, 3) }),
      el("span", { class: "sub", text: "bond-valence site energy: the lowest barrier at which Li percolates in 3D" }));
  }
  if (isNum(row.bvse_dimension)) {
    fact(facts, "BVSE dimension", el("span", { class: "bvse-dimension", text: fixed(row.bvse_dimension, 0) }),
      el("span", { class: "sub", text: "of the Li pathways at the lowest barrier" }));
  }
  const warnings = String(row.warning || "").split("; ").filter(Boolean);
  const list = clear($("detail-warnings"));
  list.hidden = !warnings.length;
  for (const w of warnings) list.append(el("li", { text: w }));
}

function renderDetail(result, tableRow, labels) {
  const row = result.row;
  $("detail-title").textContent = row.formula || row.input;
  if (row.error) {
    $("detail-summary").textContent = `error: ${row.error}`;
    return;
  }
  const all = { ...(labels || {}), ...(result.space_groups || {}) };
  // the clicked row's own facts (a CIF row's BVSE and notes), now with every label the detail brought
  renderFacts(tableRow || row, all);
  $("detail-summary").textContent = `log10 σ ${fixed(row.log10_sigma, 2)} [${fixed(row.log10_sigma_lo, 2)}, ` +
    `${fixed(row.log10_sigma_hi, 2)}] at ${row.temperature_K.toFixed(1)} K · Ea ${fixed(row.ea_eV, 3)} eV ` +
    `[${fixed(row.ea_lo, 2)}, ${fixed(row.ea_hi, 2)}] · ${row.in_domain ? "in domain" : "outside the domain"}` +
    (row.state ? ` · ${row.state}` : "") + ` · basis ${row.basis || "model"}`;
  drawArrhenius(result);
  const [lo, hi] = result.temperature_range_K;
  $("arrhenius-note").textContent = (result.range_from_data
    ? `Band over ${lo.toFixed(0)}–${hi.toFixed(0)} K, the temperatures the training measurements span. `
    : `Band over ${lo.toFixed(0)}–${hi.toFixed(0)} K (this model does not record the range its data span). `) +
    "The curve moves σ from 25 °C with the predicted Ea (σT Arrhenius form); diamonds are the nearest known " +
    "materials' measured room-temperature σ (open triangles: upper bounds), dashed lines their measured Ea.";
  renderWhy(result.why, row);
  renderNeighbours(result.neighbors, all);
}

function contributionBar(value, scale, good) {
  const width = 120;
  const mid = width / 2;
  const length = Math.min(mid, Math.abs(value) / scale * mid);
  const svg = svgEl("svg", { width, height: 12, viewBox: `0 0 ${width} 12`, "aria-hidden": "true" });
  svg.append(svgEl("line", { x1: mid, x2: mid, y1: 0, y2: 12, stroke: "#9aa5b1" }));
  svg.append(svgEl("rect", { x: value >= 0 ? mid : mid - length, y: 2, width: Math.max(length, 0.5), height: 8, rx: 1.5,
    fill: good ? "#0f7b4a" : "#b42318" }));
  return svg;
}

const WHY_TITLES = {
  log10_sigma: ["Conductivity, log10 σ at 25 °C", "raises σ", "lowers σ", 2],
  ea_eV: ["Activation energy, Ea (eV)", "raises Ea", "lowers Ea", 3],
};

function renderWhy(why, row) {
  const box = clear($("why"));
  if (!why) {
    box.append(el("p", { class: "muted", text: "No explanation: the formula could not be read." }));
    return;
  }
  if (row && row.basis && row.basis !== "model") {
    // a known material: say so first, then explain the model's own share of the answer
    const model = why.log10_sigma ? ` The model alone says log10 σ ${fixed(why.log10_sigma.prediction, 2)}; the ` +
      "contributions below explain that part." : "";
    box.append(el("p", { class: "basis-note", text: `Basis: ${row.basis}. This material is in the training data ` +
      `(${measuredText(row)}), so the answer is anchored on its measurements: the median of its papers and the ` +
      `model's answer, weighted by how precise each is, kept within its papers' range.${model}` }));
  }
  for (const [target, [title, up, down, digits]] of Object.entries(WHY_TITLES)) {
    const e = why[target];
    if (!e) continue;
    const scale = Math.max(...e.top.map((c) => Math.abs(c.contribution)), 1e-9);
    const table = el("table", { class: "why-table" });
    table.append(el("tr", {}, el("td", { text: "average of the training data" }), el("td"), el("td"),
      el("td", { class: "amount", text: fixed(e.bias, digits) })));
    for (const c of e.top) {
      // green when the change helps a conductor (higher σ, lower Ea), red when it hurts
      const good = (c.contribution >= 0) === (target === "log10_sigma");
      const colour = good ? "up" : "down";
      table.append(el("tr", { class: "contribution", title: `${c.feature} = ${c.value ?? "missing"}` },
        el("td", {}, c.description, el("span", { class: "sub", text: c.contribution >= 0 ? up : down })),
        el("td", { class: "value", text: short(c.value) }),
        el("td", {}, contributionBar(c.contribution, scale, good)),
        el("td", { class: `amount ${colour}`, text: signed(c.contribution, digits) })));
    }
    table.append(el("tr", {}, el("td", { text: "all other features" }), el("td"), el("td"),
      el("td", { class: "amount", text: signed(e.rest, digits) })));
    table.append(el("tr", { class: "total" }, el("td", { text: e.note ? "the trees' prediction" : "prediction" }),
      el("td"), el("td"), el("td", { class: "amount", text: fixed(e.prediction, digits) })));
    const block = el("div", { class: "why-block" }, el("h4", { text: title }), table);
    // a model with a neural member: the trees' share is explained above, the network's is named here
    if (e.note) block.append(el("p", { class: "muted", text: e.note }));
    box.append(block);
  }
}

// Each measurement with its paper (DOIs as links) and value; else the citations alone.
function evidenceNodes(n) {
  const items = evidence(n);
  if (!items.length) return citationNodes(n);
  const list = el("ul", { class: "neighbours" });
  for (const e of items) {
    list.append(el("li", {}, linkedText(e.paper), isNum(e.log10_sigma) ? el("span", { class: "muted", text: ` · log10 σ ${fixed(e.log10_sigma, 2)}` }) : null));
  }
  return list;
}

function renderNeighbours(neighbours, labels) {
  const table = clear($("neighbors"));
  table.append(el("thead", {}, el("tr", {}, ["Formula", "Measured log10 σ", "Ea (eV)", "State", "Space group", "Sources", "Evidence", "Distance"]
    .map((h) => el("th", { text: h })))));
  const body = el("tbody");
  for (const n of neighbours || []) {
    body.append(el("tr", {},
      el("td", { class: "formula", text: n.formula }),
      el("td", { class: "num", text: isNum(n.log10_sigma) ? `${n.censored ? "< " : ""}${fixed(n.log10_sigma, 2)}` : "–" }),
      el("td", { class: "num", text: isNum(n.ea_eV) ? fixed(n.ea_eV, 2) : "–" }),
      el("td", { text: n.state || "–" }),
      el("td", { class: "space-group", text: spaceGroupText(n.space_group, labels) || "–" }),
      el("td", { text: String(n.sources || "").split(";").join(", ") }),
      el("td", {}, evidenceNodes(n)),
      el("td", { class: "num", text: isNum(n.distance) ? n.distance.toFixed(3) : "" })));
  }
  table.append(body);
}

// ---------------------------------------------------------------------------------------------------------
// Screen

async function runScreen(event) {
  event.preventDefault();
  const button = $("screen-button");
  const payload = {
    parent: $("parent").value.trim(),
    substitutions: $("substitutions").value,
    max_fraction: Number($("max-fraction").value),
    step: Number($("step").value),
    top: Number($("top").value),
    per_dopant: Number($("per-dopant").value),
    rank: $("rank").value,
    state: $("screen-state").value || null,
    temperature_C: $("screen-temperature").value.trim() || null,
  };
  busy(button, true, "Screening…");
  setStatus("screen-status", `Screening ${payload.parent}…`);
  try {
    const started = performance.now();
    const result = await postJSON("/api/screen", payload);
    state.screen = result;
    renderScreen(result);
    const c = result.counts;
    const states = Object.entries(result.parent_states).map(([e, q]) => `${e} ${q > 0 ? "+" : MINUS}${Math.abs(q)}`).join(", ");
    setStatus("screen-status", `${c.candidates} candidates, ${c.predicted} predicted, ${c.skipped} could not be ` +
      `charge-balanced through Li, ${c.failed} failed, in ${((performance.now() - started) / 1000).toFixed(2)} s. ` +
      `Parent oxidation states: ${states}.`);
  } catch (err) {
    state.screen = null;
    $("screen-card").hidden = true;
    setStatus("screen-status", `Not screened: ${err.message}`, true);
  } finally {
    busy(button, false);
  }
}

// A ranking's label, as the server defines it (/api/about's `screen.ranks`).
function rankLabel(name) {
  const ranks = state.about && state.about.screen ? state.about.screen.ranks : {};
  return ranks[name] ? ranks[name].label : name;
}

function renderScreen(result) {
  $("screen-card").hidden = false;
  const n = result.rows.filter((r) => r.role === "candidate").length;
  $("screen-summary").textContent = `the parent's baseline, then the top ${n} by ${rankLabel(result.rank)}`;
  drawScreen(result);
  const table = clear($("screen-table"));
  const head = ["", "Formula", "Substitution", "σ (S/cm)", `log10 σ [${intervalWords(result.coverage)}]`, "Ea (eV)",
    rankLabel("p_gain"), "Domain"];
  table.append(el("thead", {}, el("tr", {}, head.map((h, i) => el("th", { class: i >= 3 && i <= 6 ? "num" : null, text: h })))));
  const body = el("tbody");
  let rank = 0;
  for (const row of result.rows) {
    const parent = row.role === "parent";
    if (!parent) rank += 1;
    body.append(el("tr", { class: parent ? "parent-row" : null },
      el("td", {}, el("span", { class: "badge role", text: parent ? "parent" : `#${rank}` })),
      el("td", { class: "formula", text: row.formula ?? "" }),
      el("td", { class: "mono", text: row.substitution || (parent ? "baseline" : "") }),
      el("td", { class: "num" }, sigmaNodes(row.sigma_S_cm)),
      intervalCell(row.log10_sigma, row.log10_sigma_lo, row.log10_sigma_hi, 2),
      el("td", { class: "num", text: fixed(row.ea_eV, 3) }),
      el("td", { class: "num", text: parent ? "" : isNum(row.p_gain) ? `${(100 * row.p_gain).toFixed(0)} %` : "" }),
      domainCell(row)));
  }
  table.append(body);
}

// The screen's scatter, readable with hundreds of candidates: one small semi-transparent marker per predicted
// candidate, coloured by its dopant combination; interval bars only for the candidates listed in the table
// (ringed) and for the one under the pointer. x is the fraction of the substituted site (with several sites,
// the largest of them), over the data's own range.
function drawScreen(result) {
  const box = $("screen-plot");
  const parent = result.rows.find((r) => r.role === "parent");
  const points = result.points.filter((p) => isNum(p.log10_sigma));
  const interval = intervalWords(result.coverage);
  const sites = [...new Set(points.flatMap((p) => Object.keys(p.sites || {})))];
  const xOf = (p) => p.sites && Object.keys(p.sites).length ? Math.max(...Object.values(p.sites)) : p.fraction;
  const xLabel = sites.length === 1
    ? `fraction of the ${sites[0]} site substituted (dopant atoms per ${sites[0]})`
    : `largest fraction of a substituted site (${sites.join(", ")}; dopant atoms per host atom)`;
  $("screen-caption").textContent = `Predicted log10 σ of ${points.length} candidate${points.length === 1 ? "" : "s"} ` +
    `against ${sites.length === 1 ? `the ${sites[0]} site's` : "the largest site"} fraction, coloured by dopant ` +
    `combination; bars are ${interval}s, shown for the listed candidates (ringed) and the one under the pointer` +
    (parent && isNum(parent.log10_sigma) ? `; the grey band is the parent's ${interval}` : "");
  if (!points.length) {
    clear(box).append(el("p", { class: "muted", text: "No candidate could be predicted, so there is nothing to plot." }));
    return;
  }
  const listed = new Set(result.rows.filter((r) => r.role === "candidate").map((r) => r.formula));
  const series = [...new Set(points.map((p) => p.series))];
  const xs = points.map(xOf);
  const step = minStep(xs);
  const x0 = Math.max(0, Math.min(...xs) - step * 0.6);
  const x1 = Math.max(...xs) + step * 0.6;
  // y spans the predictions, the listed candidates' intervals and the parent's band: a hovered bar is clipped
  // rather than letting every interval squash the cloud
  const ys = points.map((p) => p.log10_sigma)
    .concat(points.filter((p) => listed.has(p.formula)).flatMap((p) => [p.lo, p.hi])).filter(isNum);
  if (parent && isNum(parent.log10_sigma)) ys.push(parent.log10_sigma_lo, parent.log10_sigma_hi);
  const yPad = Math.max(0.2, (Math.max(...ys) - Math.min(...ys)) * 0.06);
  const [y0, y1] = [Math.min(...ys) - yPad, Math.max(...ys) + yPad];
  const { svg, sx, sy } = axes(box, {
    width: 1000, height: 380, margin: { top: 16, right: 16, bottom: 44, left: 58 },
    x: [x0, x1], y: [y0, y1], xTicks: 10,
    xLabel, yLabel: "predicted log10 σ (σ in S/cm)", label: "screen: predicted conductivity against dopant fraction",
    xFormat: (t) => t.toFixed(2),
  });
  const clip = (v) => sy(Math.min(y1, Math.max(y0, v)));
  if (parent && isNum(parent.log10_sigma)) {
    svg.append(svgEl("rect", { x: sx(x0), y: clip(parent.log10_sigma_hi), width: sx(x1) - sx(x0),
      height: clip(parent.log10_sigma_lo) - clip(parent.log10_sigma_hi), fill: "#7b8794", "fill-opacity": 0.14, class: "parent-band" }));
    svg.append(svgEl("line", { x1: sx(x0), x2: sx(x1), y1: sy(parent.log10_sigma), y2: sy(parent.log10_sigma), stroke: "#52606d", "stroke-dasharray": "6 4", "stroke-width": 1.4 }));
  }
  const small = points.length > 150;
  const dx = Math.min(0.25, 0.6 / Math.max(series.length, 1)) * (sx(x0 + step) - sx(x0));
  const colourOf = new Map(series.map((name, k) => [name, PALETTE[k % PALETTE.length]]));
  // bars never take the pointer: a bar over its own marker would hide it from the pointer and flicker
  const hover = svgEl("line", { class: "interval hover", stroke: "#102a43", "stroke-width": 1.6, visibility: "hidden",
    "pointer-events": "none" });
  const listedLayer = svgEl("g", { class: "listed-layer" });
  series.forEach((name, k) => {
    const colour = colourOf.get(name);
    const offset = (k - (series.length - 1) / 2) * dx;
    const mine = points.filter((p) => p.series === name).sort((a, b) => xOf(a) - xOf(b));
    const g = svgEl("g", { class: "series", "data-series": name });
    // a line through a series with one candidate per fraction; a series over several sites is a cloud
    if (mine.length > 1 && new Set(mine.map(xOf)).size === mine.length) {
      g.append(svgEl("path", { d: pathOf(mine.map((p) => [sx(xOf(p)) + offset, sy(p.log10_sigma)])), fill: "none", stroke: colour, "stroke-opacity": 0.45, "stroke-width": 1.1 }));
    }
    for (const p of mine) {
      const x = sx(xOf(p)) + offset;
      const top = listed.has(p.formula);
      const where = Object.entries(p.sites || {}).map(([s, f]) => `${s} ${fixed(f, 2)}`).join(", ");
      const tip = `${p.formula} (${p.series}${where ? `, ${where}` : ""}): log10 σ ${fixed(p.log10_sigma, 2)}, ` +
        `${interval} [${fixed(p.lo, 2)}, ${fixed(p.hi, 2)}]${p.in_domain === false ? ", outside the domain" : ""}`;
      if (top) {
        listedLayer.append(svgEl("line", { x1: x, x2: x, y1: clip(p.lo), y2: clip(p.hi), stroke: colour, "stroke-width": 1.5, class: "interval listed",
          "pointer-events": "none" }));
      }
      const dot = svgEl("circle", { cx: x, cy: sy(p.log10_sigma), r: top ? 4.5 : small ? 2.4 : 3.4, fill: colour,
        "fill-opacity": top ? 0.95 : 0.5, stroke: top ? "#102a43" : "none", "stroke-width": top ? 1.6 : 0,
        class: top ? "point listed" : "point" });
      dot.append(svgEl("title", { text: tip }));
      dot.addEventListener("pointerenter", () => {
        setAttrs(hover, { x1: x, x2: x, y1: clip(p.lo), y2: clip(p.hi), stroke: colour, visibility: "visible" });
      });
      dot.addEventListener("pointerleave", () => hover.setAttribute("visibility", "hidden"));
      (top ? listedLayer : g).append(dot);
    }
    svg.append(g);
  });
  svg.append(listedLayer, hover);  // the listed candidates and the hovered bar above the cloud
  const items = series.map((name) => ({ kind: "circle", colour: colourOf.get(name), label: name }));
  if (parent && isNum(parent.log10_sigma)) {
    items.push({ kind: "line", colour: "#52606d", dash: "6 4", label: `parent ${parent.formula}` });
    items.push({ kind: "band", colour: "#7b8794", label: `parent's ${interval}` });
  }
  items.push({ kind: "ring", colour: "#102a43", label: `ringed: listed in the table, with its ${interval}` });
  legend(box, items);
}

// The smallest gap between distinct x values (the fraction step), 0.05 for a single value.
function minStep(xs) {
  const sorted = [...new Set(xs)].sort((a, b) => a - b);
  let step = sorted.length > 1 ? Infinity : 0.05;
  for (let i = 1; i < sorted.length; i++) step = Math.min(step, sorted[i] - sorted[i - 1]);
  return step;
}

// ---------------------------------------------------------------------------------------------------------
// Known materials: the measured records (GET /api/materials)

const SOURCE_COLOURS = { obelix: "#1d4ed8", review: "#d97706", laskowski: "#059669", liverpool: "#c026d3", user: "#dc2626" };
const KNOWN_LIMIT = 50;

async function searchKnown(event) {
  event.preventDefault();
  const q = $("known-query").value.trim();
  if (!q) {
    setStatus("known-status", "Type a formula, an element set, a family or a DOI.", true);
    return;
  }
  const button = $("known-button");
  busy(button, true, "Searching…");
  setStatus("known-status", `Searching ${q}…`);
  try {
    const result = await api(`/api/materials?${new URLSearchParams({ q, limit: String(KNOWN_LIMIT) })}`);
    renderKnown(result);
    const n = result.materials.length;
    setStatus("known-status", n
      ? `${n} measured material${n === 1 ? "" : "s"} for ${result.query.description}` + (n === result.limit ? ` (the first ${n})` : "") + "."
      : `No measured material for ${result.query.description}.`);
  } catch (err) {
    setStatus("known-status", `Not searched: ${err.message}`, true);
  } finally {
    busy(button, false);
  }
}

function knownValue(m) {
  return isNum(m.log10_sigma) ? `${m.censored ? "< " : ""}${fixed(m.log10_sigma, 2)}` : "–";
}

function knownName(m) {
  return m.formula + (m.additive ? ` + ${m.additive}` : "");
}

function renderKnown(result) {
  $("known-detail").hidden = true;
  const table = clear($("known-materials"));
  $("known-card").hidden = !result.materials.length;
  $("known-summary").textContent = result.query.description;
  if (!result.materials.length) return;
  const head = ["Formula", "State", "Family", "log10 σ at RT", "Papers", "Range (papers)", "Ea (eV)", "Measurements", ""];
  const numeric = new Set([3, 4, 5, 6, 7]);
  table.append(el("thead", {}, el("tr", {}, head.map((h, i) => el("th", { class: numeric.has(i) ? "num" : null, text: h })))));
  const body = el("tbody");
  const rows = result.materials.map((m, i) => {
    const tr = el("tr", { "data-material": i },
      el("td", { class: "formula", text: knownName(m) }),
      el("td", {}, el("span", { class: "badge state", text: m.state })),
      el("td", { text: m.family || "–" }),
      el("td", { class: "num", text: knownValue(m) }),
      el("td", { class: "num", text: m.n_papers }),
      el("td", { class: "num", text: m.n_papers > 1 ? `${fixed(m.log10_sigma_min, 2)} to ${fixed(m.log10_sigma_max, 2)}` : "" }),
      el("td", { class: "num", text: isNum(m.ea_eV) ? fixed(m.ea_eV, 3) : "–" }),
      el("td", { class: "num", text: m.measurements.length + (m.arrhenius ? " · fit" : "") }));
    tr.append(el("td", {}, el("button", { type: "button", class: "ghost small details-button", text: "Show",
      onclick: () => openKnown(m, tr) })));
    return tr;
  });
  body.append(...rows);
  table.append(body);
  if (rows.length === 1) openKnown(result.materials[0], rows[0]);
}

function openKnown(m, row) {
  for (const tr of $("known-materials").querySelectorAll("tr.selected")) tr.classList.remove("selected");
  row.classList.add("selected");
  const card = $("known-detail");
  card.hidden = false;
  $("known-title").textContent = knownName(m);
  $("known-detail-summary").textContent = [m.state, m.family ? `family ${m.family}` : null,
    isNum(m.log10_sigma) ? `log10 σ at RT ${knownValue(m)} (${m.n_papers > 1 ? `median of ${m.n_papers} papers` : "1 paper"})` : "no room-temperature value",
    isNum(m.ea_eV) ? `Ea ${fixed(m.ea_eV, 3)} eV` : null].filter(Boolean).join(" · ");
  drawKnown(m);
  renderMeasurements(m);
  card.scrollIntoView({ behavior: "smooth", block: "start" });
}

function drawKnown(m) {
  const box = $("known-plot");
  const points = m.measurements.filter((p) => isNum(p.log10_sigma) && isNum(p.inv_T));
  const line = m.arrhenius ? m.arrhenius.line : [];
  const xs = points.map((p) => p.inv_T).concat(line.map((p) => p.inv_T));
  const ys = points.map((p) => p.log10_sigma).concat(line.map((p) => p.log10_sigma));
  const xPad = Math.max(0.05, (Math.max(...xs) - Math.min(...xs)) * 0.06);
  const yPad = Math.max(0.3, (Math.max(...ys) - Math.min(...ys)) * 0.08);
  const [x0, x1] = [Math.min(...xs) - xPad, Math.max(...xs) + xPad];
  const { svg, sx, sy } = axes(box, {
    width: 620, height: 380, margin: { top: 34, right: 18, bottom: 44, left: 58 },
    x: [x0, x1], y: [Math.min(...ys) - yPad, Math.max(...ys) + yPad],
    xLabel: "1000 / T (K⁻¹)", yLabel: "log10 σ (S/cm)", label: `Arrhenius plot of the measurements of ${knownName(m)}`,
    xFormat: (t) => t.toFixed(2),
  });
  celsiusTicks(svg, sx, x0, x1);
  const items = [];
  if (line.length) {
    const a = m.arrhenius;
    svg.append(svgEl("path", { d: pathOf(line.map((p) => [sx(p.inv_T), sy(p.log10_sigma)])), fill: "none", stroke: "#102a43",
      "stroke-width": 1.8, "stroke-dasharray": "6 4", class: "fit" }));
    items.push({ kind: "line", colour: "#102a43", dash: "6 4",
      label: `Arrhenius fit (σT form) of ${a.n_points} points: Ea ${fixed(a.ea_eV, 3)} eV, R² ${fixed(a.r2, 2)}` });
  }
  for (const p of points) {
    const colour = SOURCE_COLOURS[p.source] || "#475569";
    const kind = p.censored ? "triangle" : isNum(p.temperature_K) ? "circle" : "diamond";
    const mark = marker(kind, sx(p.inv_T), sy(p.log10_sigma), colour);
    mark.setAttribute("class", "measurement-point");
    const where = isNum(p.temperature_K) ? celsius(p.temperature_K) : "room temperature (not stated)";
    mark.append(svgEl("title", { text: `${p.source} ${p.source_row_id}: log10 σ ${p.censored ? "< " : ""}${fixed(p.log10_sigma, 2)} at ${where}` +
      (p.paper || p.doi ? ` · ${p.paper || p.doi}` : "") }));
    svg.append(mark);
  }
  for (const source of Object.keys(SOURCE_COLOURS)) {
    if (points.some((p) => p.source === source)) items.push({ kind: "circle", colour: SOURCE_COLOURS[source], label: source });
  }
  if (points.some((p) => !p.censored && !isNum(p.temperature_K))) items.push({ kind: "diamond", colour: "#7b8794", label: "room temperature, not stated: at 25 °C" });
  if (points.some((p) => p.censored)) items.push({ kind: "triangle", colour: "#7b8794", label: "upper bound" });
  legend(box, items);
  const temps = new Set(points.filter((p) => isNum(p.temperature_K) && !p.censored).map((p) => p.temperature_K));
  $("known-note").textContent = m.arrhenius
    ? `The fit is log10(σT) = A − Ea/(k ln10 · T) over the measured values at stated temperatures, from every paper; its log10 σ at 25 °C is ${fixed(m.arrhenius.log10_sigma_rt, 2)}.`
    : `No fit: σ is measured at ${temps.size} stated temperature${temps.size === 1 ? "" : "s"} (a fit needs three or more).`;
}

function renderMeasurements(m) {
  const table = clear($("known-measurements"));
  const head = ["log10 σ", "σ (S/cm)", "T (°C)", "Ea (eV)", "State", "Source", "Paper or DOI"];
  table.append(el("thead", {}, el("tr", {}, head.map((h, i) => el("th", { class: i < 4 ? "num" : null, text: h })))));
  const body = el("tbody");
  for (const p of m.measurements) {
    body.append(el("tr", {},
      el("td", { class: "num", text: `${p.censored ? "< " : ""}${fixed(p.log10_sigma, 2)}` }),
      el("td", { class: "num" }, sigmaNodes(p.sigma_S_cm)),
      el("td", { class: "num", text: isNum(p.temperature_K) ? fixed(p.temperature_K - 273.15, 0) : "RT" }),
      el("td", { class: "num", text: isNum(p.ea_eV) ? fixed(p.ea_eV, 3) : "" }),
      el("td", { text: p.state }),
      el("td", { class: "mono", text: `${p.source} ${p.source_row_id}` }),
      el("td", {}, linkedText(p.paper || p.doi || ""))));
  }
  table.append(body);
}

// ---------------------------------------------------------------------------------------------------------
// About

function fact(list, term, ...value) {
  list.append(el("dt", { text: term }), el("dd", {}, ...value));
}

// The forms as the server defines them: the states (one list for both forms), the screen's defaults, choices
// and help, and the intervals' coverage in the footnotes.
function fillForms(about) {
  for (const select of document.querySelectorAll("select.state-select")) {
    for (const name of about.states || []) select.append(el("option", { value: name, text: name }));
  }
  const screen = about.screen || { options: {}, ranks: {} };
  const ranks = clear($("rank"));
  for (const [name, r] of Object.entries(screen.ranks)) ranks.append(el("option", { value: name, title: r.description, text: r.label }));
  const inputs = { max_fraction: "max-fraction", step: "step", top: "top", per_dopant: "per-dopant", rank: "rank",
    temperature_c: "screen-temperature", state: "screen-state" };
  for (const [name, id] of Object.entries(inputs)) {
    const option = screen.options[name];
    if (!option) continue;
    $(id).title = option.help;
    if (option.default !== null && option.default !== undefined) $(id).value = String(option.default);
  }
  if (about.limits) $("top").max = String(about.limits.max_top);
  for (const span of document.querySelectorAll(".coverage-label")) {
    span.textContent = coverageLabel(about.coverage) ? `${coverageLabel(about.coverage)} ` : "";
  }
}

function renderAbout(about) {
  state.about = about;
  fillForms(about);
  $("version").textContent = about.version;
  const models = Object.values(about.models);
  const registered = models.filter((m) => m.registered_model);
  const badge = registered.length
    ? registered.map((m) => `${m.registered_model} v${m.registered_version}${m.alias ? " @" + m.alias : ""}`).join(" · ")
    : about.source;
  $("model-badge").textContent = badge;
  $("model-badge").title = `loaded from ${about.source}`;
  const facts = clear($("about-model"));
  fact(facts, "Loaded from", el("span", { class: "mono", text: about.source }));
  for (const [target, m] of Object.entries(about.models)) {
    const name = target === "log10_sigma" ? "Conductivity model" : "Activation-energy model";
    const parts = [m.registered_model ? `${m.registered_model}, version ${m.registered_version}` : "not from a registry",
      m.alias ? `alias ${m.alias}` : null, m.config ? `config ${m.config}` : null, `${m.n_train} training materials`,
      `${m.features} features (${m.preset})`, m.trained_at ? `trained ${m.trained_at.slice(0, 10)}` : null];
    fact(facts, name, parts.filter(Boolean).join(" · "));
  }
  const [lo, hi] = about.temperature_range_K;
  fact(facts, "Temperatures of the data", `${lo.toFixed(0)}–${hi.toFixed(0)} K` + (about.range_from_data ? "" : " (not recorded by this model)"));
  const metrics = clear($("about-metrics"));
  metrics.append(el("thead", {}, el("tr", {}, ["Target", "MAE", "RMSE", "R²", "Spearman", "Rows"].map((h, i) => el("th", { class: i ? "num" : null, text: h })))));
  const body = el("tbody");
  for (const [target, m] of Object.entries(about.models)) {
    const x = m.metrics || {};
    const unit = target === "log10_sigma" ? "log10 σ (decades)" : "Ea (eV)";
    body.append(el("tr", {}, el("td", { text: unit }), el("td", { class: "num", text: short(x.cv_mae) }),
      el("td", { class: "num", text: short(x.cv_rmse) }), el("td", { class: "num", text: short(x.cv_r2) }),
      el("td", { class: "num", text: short(x.cv_spearman) }), el("td", { class: "num", text: x.cv_n ?? "" })));
  }
  metrics.append(body);
  const sources = clear($("about-sources"));
  for (const s of about.sources) {
    sources.append(el("li", {}, el("strong", { text: s.name }), ": ", linkedText(s.citation || ""),
      el("span", { class: "sub", text: `licence ${s.licence || "not stated"}` +
        (s.files.length ? ` · pinned files: ${s.files.map((f) => `${f.file} @ ${f.commit.slice(0, 8)}`).join(", ")}` : " · shipped with sulfml") })));
  }
  const limits = clear($("about-limits"));
  const l = about.limits;
  fact(limits, "Request body", `at most ${l.max_body_bytes.toLocaleString("en")} bytes`);
  fact(limits, "Rows per request", `at most ${l.max_rows.toLocaleString("en")}`);
  fact(limits, "Screen size", `at most ${l.max_screen.toLocaleString("en")} candidates, ${l.max_top} listed`);
  fact(limits, "Predicting at once", `${l.concurrent} requests (more wait their turn)`);
}

// ---------------------------------------------------------------------------------------------------------

function start() {
  for (const tab of document.querySelectorAll(".tabs button")) tab.addEventListener("click", () => showTab(tab));
  $("predict-form").addEventListener("submit", predictPasted);
  $("formulas").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("predict-form").requestSubmit();
  });
  $("file").addEventListener("change", predictFile);
  $("cif-file").addEventListener("change", predictCif);
  $("screen-form").addEventListener("submit", runScreen);
  $("known-form").addEventListener("submit", searchKnown);
  $("detail-close").addEventListener("click", () => { $("detail-card").hidden = true; });
  $("download-predictions").addEventListener("click", () => {
    if (state.predictions) {
      downloadCSV(state.predictions.columns, state.predictions.rows, "sulfml-predictions.csv", state.predictions.space_groups);
    }
  });
  $("download-screen").addEventListener("click", () => {
    if (state.screen) downloadCSV(state.screen.columns, state.screen.rows, "sulfml-screen.csv");
  });
  api("/api/about").then(renderAbout).catch((err) => {
    $("model-badge").textContent = `models not available: ${err.message}`;
  });
}

document.addEventListener("DOMContentLoaded", start);
