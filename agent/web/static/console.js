// ShopOps approval console: vanilla JS over the /api endpoints (the only way it reads or
// writes data). The token lives in sessionStorage (this tab only) and travels as a bearer
// header. Charts are inline SVG drawn from the decision card and the run series.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const state = { current: null, runId: null };  // sign-in, api() and el() are in common.js

// ------------------------------------------------------------------ helpers
function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text != null) node.textContent = text;
  return node;
}

const fmt = (x, d = 1) => (x == null || Number.isNaN(x) ? "–" : Number(x).toLocaleString(undefined, { maximumFractionDigits: d }));

// A line/area chart: series = [{points: [[x, y], ...], cls, area?}], hlines = [{y, cls, label}].
function chart(node, { series = [], hlines = [], bars = null, xLabel = "", yMin = null }) {
  node.replaceChildren();
  const [, , W, H] = node.getAttribute("viewBox").split(" ").map(Number);
  const pad = { l: 40, r: 8, t: 8, b: 22 };
  const xs = [], ys = [];
  for (const s of series) for (const [x, y] of [...s.points, ...(s.area || [])]) { if (y != null) { xs.push(x); ys.push(y); } }
  if (bars) bars.forEach(([x, y]) => { xs.push(x); ys.push(y); });
  hlines.forEach((h) => ys.push(h.y));
  if (!xs.length) { node.append(svg("text", { x: W / 2, y: H / 2, class: "axis", "text-anchor": "middle" }, "no data yet")); return; }
  let x0 = Math.min(...xs), x1 = Math.max(...xs);
  if (bars) { x0 -= 0.5; x1 += 0.5; }
  if (x1 === x0) x1 = x0 + 1;
  let y0 = yMin != null ? yMin : Math.min(0, ...ys), y1 = Math.max(...ys);
  if (y1 === y0) y1 = y0 + 1;
  y1 += (y1 - y0) * 0.08;
  const X = (x) => pad.l + ((x - x0) / (x1 - x0)) * (W - pad.l - pad.r);
  const Y = (y) => H - pad.b - ((y - y0) / (y1 - y0)) * (H - pad.t - pad.b);
  node.append(svg("line", { x1: pad.l, x2: W - pad.r, y1: Y(Math.max(y0, 0)), y2: Y(Math.max(y0, 0)), class: "axis-line" }));
  for (const v of [y0, (y0 + y1) / 2, y1]) {
    node.append(svg("text", { x: pad.l - 4, y: Y(v) + 3, class: "axis", "text-anchor": "end" }, fmt(v, Math.abs(v) < 2 ? 2 : 0)));
  }
  node.append(svg("text", { x: W - pad.r, y: H - 4, class: "axis", "text-anchor": "end" }, xLabel));
  node.append(svg("text", { x: pad.l, y: H - 4, class: "axis" }, fmt(x0 + (bars ? 0.5 : 0), 0)));
  if (bars) {
    const bw = Math.max(1, (W - pad.l - pad.r) / (x1 - x0) - 2);
    for (const [x, y] of bars) {
      const top = Y(Math.max(y, 0)), bottom = Y(Math.min(y, 0));
      node.append(svg("rect", { x: X(x) - bw / 2, y: top, width: bw, height: Math.max(1, bottom - top), class: y >= 0 ? "bar" : "bar neg" }));
    }
  }
  for (const s of series) {
    if (s.area) {  // band: points of the upper edge then the lower edge reversed
      node.append(svg("polygon", { points: s.area.map(([x, y]) => `${X(x)},${Y(y)}`).join(" "), class: `${s.cls} area` }));
    }
    const pts = s.points.filter(([, y]) => y != null);
    if (!pts.length) continue;
    node.append(svg("polyline", { points: pts.map(([x, y]) => `${X(x)},${Y(y)}`).join(" "), class: s.cls }));
  }
  for (const h of hlines) {
    node.append(svg("line", { x1: pad.l, x2: W - pad.r, y1: Y(h.y), y2: Y(h.y), class: h.cls }));
    node.append(svg("text", { x: W - pad.r - 2, y: Y(h.y) - 3, class: `label ${h.cls}`, "text-anchor": "end" }, h.label));
  }
}


async function refresh() {
  await Promise.all([loadPending(), loadRuns(), loadAlerts()]);
}

// ------------------------------------------------------------------ pending list
async function loadPending() {
  const items = await api("/api/decisions");
  $("pending-count").textContent = items.length;
  const list = $("pending");
  list.replaceChildren();
  if (!items.length) list.append(el("li", { class: "hint", text: "Nothing is waiting for a decision." }));
  for (const d of items) {
    const li = el("li", { class: "decision", "data-id": String(d.action_id) },
      el("span", { class: `risk r${Math.min(9, Math.floor(d.risk * 10))}`, text: d.risk.toFixed(2) }),
      el("span", { class: "what", text: d.summary }),
      el("span", { class: "when", text: `#${d.action_id} · ${d.shop_id} · day ${d.day} · due day ${d.expires_day ?? "–"}` }));
    if (state.current && state.current.action_id === d.action_id) li.classList.add("selected");
    li.addEventListener("click", () => openDecision(d.action_id));
    list.append(li);
  }
}

// ------------------------------------------------------------------ decision card
async function openDecision(id) {
  const d = await api(`/api/decisions/${id}`);
  state.current = d;
  document.querySelectorAll("#pending li").forEach((li) => li.classList.toggle("selected", li.dataset.id === String(id)));
  $("card-empty").hidden = true;
  $("card").hidden = false;
  $("answer-result").textContent = "";
  $("answer-result").className = "";
  renderCard(d);
  if (state.runId !== d.run_id) { $("chat-log").replaceChildren(); }
  state.runId = d.run_id;
  loadRun(d.run_id);
}

function renderCard(d) {
  const c = d.card, why = c.why || {}, eff = c.effect || {}, risk = c.risk || { parts: {} };
  $("card-title").textContent = `#${d.action_id} ${c.summary}`;
  $("card-status").textContent = d.status;
  $("card-status").className = `status ${d.status}`;
  $("card-meta").textContent = `${d.shop_id} · run ${d.run_id} · decided for day ${d.day} · expires at the close of day ${c.expires_day}`;
  const facts = $("card-facts");
  facts.replaceChildren();
  const add = (k, v) => facts.append(el("dt", { text: k }), el("dd", { text: v }));
  if (d.policy) add("Policy", d.policy);
  add("Risk", `${risk.score.toFixed(2)}, mostly ${risk.top} (` + Object.entries(risk.parts).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ") + ")");
  add("Forecast", `${fmt(why.forecast_per_day, 2)}/day; ${why.band_days}-day band ${fmt(why.band?.[0])}..${fmt(why.band?.[1])}`);
  add("Stock", `on hand ${fmt(why.on_hand, 0)}, on order ${fmt(why.on_order, 0)}, cover ${why.cover_days == null ? "unbounded" : fmt(why.cover_days)} days, lead time ${fmt(why.lead_time, 0)} days`);
  if (c.kind === "restock") add("Need", `${fmt(why.need_units, 0)} units (upper band ${fmt(why.need_upper_units, 0)}), minimum order ${fmt(why.moq, 0)}, value ${fmt(why.value, 2)}`);
  if (eff.unavailable) add("What-if", `unavailable: ${eff.unavailable}`);
  else if (eff.profit_delta != null) add("What-if", `${eff.profit_delta >= 0 ? "+" : ""}${fmt(eff.profit_delta, 2)} profit on this SKU over ${eff.horizon_days} days vs. no action (whole plan ${fmt(eff.plan_profit_delta, 2)})`);
  add("Signals", `drift ${fmt(why.drift, 2)}, anomaly ${fmt(why.anomaly, 2)}`);
  if (d.answer) add("Answer", `${d.answer.decision} by ${d.answer.by}${d.answer.reason ? ` — “${d.answer.reason}”` : ""}${d.answer.edit ? ` (edit ${JSON.stringify(d.answer.edit)})` : ""}`);
  if (d.execution) add("Executed", `${describe(d.execution.params)} on shop day ${d.execution.applied_day}`);
  if (c.outcome && c.outcome.notes && c.outcome.notes.length) add("Changed by the rules", c.outcome.notes.join("; "));
  if (c.safe_part) add("Safe part", `x${c.safe_part.quantity} of this order executed automatically (#${c.safe_part.action_id}); this decision is about the rest`);
  if (c.previous_answer) { const p = c.previous_answer; add("Last answer", `day ${p.day}: ${p.by} ${p.decision}ed ${p.asked}${p.reason ? ` — “${p.reason}”` : ""}`); }
  const rules = $("card-rules");
  rules.replaceChildren();
  if (!(c.rules || []).length) rules.append(el("li", { class: "ok", text: "All hard rules passed unchanged." }));
  for (const r of c.rules || []) rules.append(el("li", { class: r.outcome, text: `${r.rule} (${r.outcome}): ${r.detail}` }));
  const docs = $("card-docs");
  docs.replaceChildren();
  $("card-docs-title").hidden = !(c.documents || []).length;
  for (const doc of c.documents || []) {
    docs.append(el("li", {},
      el("a", { href: `/kb?doc=${Number(doc.document_id)}`, text: `#${doc.document_id} v${doc.version} ${doc.title}` }),
      ` (${doc.kind}): ${doc.directive} [${doc.status}]`));
  }
  renderEditFields(d);
  drawCardCharts(c);
  const open = d.can_answer;
  $("answer-form").hidden = !open;
  $("chat").hidden = false;
}

function describe(p) {
  if (!p) return "";
  if (p.kind === "restock") return `restock ${p.sku} ×${p.quantity}`;
  return `promotion ${p.sku} ${Math.round((p.discount || 0) * 100)}% for ${p.duration_days} days`;
}

function renderEditFields(d) {
  const box = $("edit-fields");
  box.replaceChildren();
  const line = d.card.line || {};
  const fields = d.kind === "restock"
    ? [["quantity", "Quantity", line.quantity, "1", "0"]]
    : [["discount", "Discount (0–1)", line.discount, "0.01", "0"], ["duration_days", "Days", line.duration_days, "1", "1"]];
  for (const [name, label, value, step, min] of fields) {
    const input = el("input", { id: name, type: "number", step, min, value: value ?? "" });
    input.dataset.original = String(value ?? "");
    input.addEventListener("input", updateApproveLabel);
    box.append(el("label", {}, `${label} `, input));
  }
  $("reason").value = "";
  updateApproveLabel();
}

function edits() {
  const out = {};
  document.querySelectorAll("#edit-fields input").forEach((i) => {
    if (i.value !== "" && Number(i.value) !== Number(i.dataset.original)) out[i.id] = Number(i.value);
  });
  return out;
}

function updateApproveLabel() {
  $("btn-approve").textContent = Object.keys(edits()).length ? "Approve with edit" : "Approve";
}

function drawCardCharts(c) {
  const why = c.why || {}, n = Math.max(1, why.band_days || 14), fc = why.forecast_per_day || 0;
  const lo = (why.band || [0, 0])[0], hi = (why.band || [0, 0])[1];
  const qty = c.kind === "restock" ? (c.line.quantity || 0) : 0;
  const stock = (why.on_hand || 0) + (why.on_order || 0);
  const days = [...Array(n + 1).keys()];
  const upper = days.map((t) => [t, (hi * t) / n]), lower = days.map((t) => [t, (lo * t) / n]);
  chart($("chart-forecast"), {
    xLabel: "days ahead",
    series: [
      { cls: "band", points: [], area: [...upper, ...lower.reverse()] },
      { cls: "mean", points: days.map((t) => [t, fc * t]) },
    ],
    hlines: [
      { y: stock, cls: "stock", label: "stock + on order" },
      ...(qty ? [{ y: stock + qty, cls: "order", label: "with this order" }] : []),
    ],
  });
  const lead = Math.round(why.lead_time || 0);
  chart($("chart-cover"), {
    xLabel: "days ahead",
    series: [
      { cls: "stock", points: days.map((t) => [t, Math.max(0, stock - fc * t)]) },
      ...(qty ? [{ cls: "order", points: days.map((t) => [t, Math.max(0, stock + (t >= lead ? qty : 0) - fc * t)]) }] : []),
    ],
    hlines: [{ y: 0, cls: "zero", label: "stock-out" }],
    yMin: 0,
  });
}

async function submitAnswer(choice) {
  const d = state.current;
  if (!d) return;
  const body = { choice, reason: $("reason").value };
  if (choice === "accept") {
    const e = edits();
    if (Object.keys(e).length) { body.choice = "edit"; Object.assign(body, e); }
  }
  const out = $("answer-result");
  out.className = "busy";
  out.textContent = "Sending…";
  try {
    const r = await api(`/api/decisions/${d.action_id}/answer`, { method: "POST", body: JSON.stringify(body) });
    // what executed is decided at execution: the rules may have clipped or refused it
    out.className = (r.notes && r.notes.length) || r.status === "refused" ? "conflict" : "ok";
    out.textContent = r.executed
      ? `Executed: ${describe(r.execution.params)} on shop day ${r.execution.applied_day} (by ${r.by}).`
      : r.message;
    if (r.executed && r.notes.length) out.textContent += ` The rules changed it: ${r.notes.join("; ")}.`;
    out.textContent += ` ${r.still_pending.length} other decision(s) of this run still wait.`;
  } catch (err) {
    out.className = err.status === 409 ? "conflict" : "error";
    out.textContent = err.status === 409 ? `Conflict: ${err.message}` : err.message;
  }
  const keep = out.textContent, cls = out.className;
  await openDecision(d.action_id);
  out.textContent = keep; out.className = cls;
  await Promise.all([loadPending(), loadRuns()]);
}

// ------------------------------------------------------------------ chat
async function sendChat(line) {
  if (!state.runId || !line.trim()) return;
  const log = $("chat-log");
  log.append(el("div", { class: "me", text: `> ${line}` }));
  try {
    const r = await api("/api/chat", { method: "POST", body: JSON.stringify({ run_id: state.runId, line, action_id: state.current ? state.current.action_id : null }) });
    log.append(el("pre", { class: "bot", text: r.reply || "(nothing to say)" }));
  } catch (err) {
    log.append(el("pre", { class: "bot error", text: err.message }));
  }
  log.scrollTop = log.scrollHeight;
  if (state.current) {  // the line may have answered something: refresh, keep the result line
    const open = state.current.action_id, out = $("answer-result");
    const keep = out.textContent, cls = out.className;
    await loadPending();
    await openDecision(open);
    out.textContent = keep; out.className = cls;
  }
}

// ------------------------------------------------------------------ runs and alerts
async function loadRuns() {
  const runs = await api("/api/runs");
  const list = $("runs");
  list.replaceChildren();
  if (!runs.length) list.append(el("li", { class: "hint", text: "No runs yet." }));
  for (const r of runs) {
    const li = el("li", { class: "run", "data-id": r.run_id },
      el("span", { class: "what", text: `${r.shop_id} · ${r.scenario ?? ""} · ${r.policy}` }),
      el("span", { class: "when", text: `run ${r.run_id} · day ${r.current_day} · profit ${fmt(r.profit, 0)} · ${r.pending} pending · ${r.status}` }));
    if (r.run_id === state.runId) li.classList.add("selected");
    li.addEventListener("click", () => loadRun(r.run_id));
    list.append(li);
  }
  if (!state.runId && runs.length) await loadRun(runs[0].run_id);
  else if (state.runId) await loadRun(state.runId);
}

async function loadRun(runId) {
  const d = await api(`/api/runs/${runId}`);
  document.querySelectorAll("#runs li").forEach((li) => li.classList.toggle("selected", li.dataset.id === runId));
  $("run-detail").hidden = false;
  $("run-title").textContent = `Run ${runId} (${d.run.shop_id}): ${d.run.days_closed} days closed`;
  const k = d.kpis, dl = $("run-kpis");
  dl.replaceChildren();
  for (const [name, val] of [["Profit", fmt(k.profit, 0)], ["Fill rate", k.fill_rate == null ? "–" : `${(k.fill_rate * 100).toFixed(1)}%`],
    ["Lost units", fmt(k.lost_units, 0)], ["Ordered", fmt(k.ordered_units, 0)], ["Executed", d.statuses.executed || 0], ["Pending", d.statuses.pending || 0]]) {
    dl.append(el("dt", { text: name }), el("dd", { text: String(val) }));
  }
  const s = d.series, pts = (ys) => s.day.map((x, i) => [x, ys[i]]);
  chart($("chart-profit"), { bars: pts(s.profit).filter(([, y]) => y != null), xLabel: "day" });
  chart($("chart-fill"), { series: [{ cls: "mean", points: pts(s.fill_rate) }], xLabel: "day", yMin: 0 });
  chart($("chart-inventory"), { series: [{ cls: "stock", points: pts(s.inventory) }], xLabel: "day", yMin: 0 });
  const recent = $("run-recent");
  recent.replaceChildren();
  if (!d.recent.length) recent.append(el("li", { class: "hint", text: "No answers yet." }));
  for (const a of d.recent.slice(0, 8)) {
    recent.append(el("li", { text: `#${a.action_id} ${a.sku}: ${a.decision} by ${a.by}${a.reason ? ` — ${a.reason}` : ""}` }));
  }
}

async function loadAlerts() {
  const alerts = await api("/api/alerts");
  const list = $("alerts");
  list.replaceChildren();
  if (!alerts.length) list.append(el("li", { class: "hint", text: "No drift alerts or anomalies." }));
  for (const a of alerts.slice(0, 30)) {
    const d = a.detail;
    const text = a.kind === "drift"
      ? `drift ${d.direction ?? ""} ${d.sku}: ${d.size != null ? `${(d.size * 100).toFixed(0)}%` : ""} (day ${a.day}, ${a.shop_id})`
      : `anomaly ${d.sku}: ${d.reason ?? ""} (day ${a.day}, ${a.shop_id})`;
    list.append(el("li", { class: a.kind, text }));
  }
}

// ------------------------------------------------------------------ wiring
document.addEventListener("DOMContentLoaded", () => {
  $("answer-form").addEventListener("submit", (e) => { e.preventDefault(); submitAnswer("accept"); });
  $("btn-reject").addEventListener("click", () => submitAnswer("reject"));
  $("chat-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const line = $("chat-input").value;
    $("chat-input").value = "";
    sendChat(line);
  });
  startPage("console", refresh);
});
