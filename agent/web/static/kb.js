// ShopOps knowledge base page: vanilla JS over /api/kb (the only way it reads or writes
// data). Same sign-in as the console: the token lives in sessionStorage (this tab only) and
// travels as a bearer header. Every document text, title and reading is untrusted: it only
// ever reaches the page as textContent, never as HTML.
"use strict";

const state = { docId: null };  // sign-in, api() and el() are in common.js

const firstLine = (text) => (text || "").trim().split("\n")[0].slice(0, 120);
const docName = (d) => d.title || firstLine(d.text) || `document ${d.doc_key}`;
const pct = (c) => (c == null ? "–" : `${Math.round(c * 100)}%`);
const qs = (params) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
};

async function refresh() {
  await Promise.all([loadDocuments(), loadReadings()]);
  if (state.docId != null) await openDocument(state.docId);
}

async function loadShops() {
  const shops = await api("/api/kb/shops");
  const sel = $("kb-shop");
  sel.replaceChildren(el("option", { value: "", text: "all shops" }));
  for (const s of shops) {
    sel.append(el("option", { value: s.shop_id, text: `${s.shop_id} (${s.documents} documents, ${s.pending} waiting)` }));
  }
}

// ------------------------------------------------------------------ documents
async function loadDocuments() {
  const docs = await api(`/api/kb/documents${qs({ shop_id: $("kb-shop").value, status: $("kb-status").value })}`);
  const list = $("documents");
  list.replaceChildren();
  if (!docs.length) list.append(el("li", { class: "hint", text: "No documents." }));
  for (const d of docs) {
    const li = el("li", { class: "document", "data-id": String(d.id) },
      el("span", { class: `status ${d.status}`, text: d.status }), " ",
      el("span", { class: "what", text: docName(d) }),
      el("span", { class: "when", text: `${d.shop_id} · ${d.kind} · ${d.doc_date} · v${d.version} · ${d.directive_count} reading(s)` }));
    if (d.id === state.docId) li.classList.add("selected");
    li.addEventListener("click", () => openDocument(d.id));
    list.append(li);
  }
}

async function openDocument(id) {
  const d = await api(`/api/kb/documents/${id}`);
  state.docId = id;
  document.querySelectorAll("#documents li").forEach((li) => li.classList.toggle("selected", li.dataset.id === String(id)));
  $("doc-empty").hidden = true;
  $("doc").hidden = false;
  $("doc-title").textContent = docName(d);
  $("doc-status").textContent = d.status;
  $("doc-status").className = `status ${d.status}`;
  const scope = [...d.skus, ...d.categories, ...d.suppliers];
  const parts = [`${d.shop_id} · ${d.kind} · dated ${d.doc_date}`, `key ${d.doc_key} v${d.version}`,
    `valid ${d.valid_from || "…"} to ${d.valid_to || "…"}`, scope.length ? `about ${scope.join(", ")}` : "whole shop"];
  if (d.source) parts.push(`from ${d.source}`);
  if (d.author) parts.push(`by ${d.author}`);
  if (d.status === "retired") parts.push(`retired by ${d.retired_by}: ${d.retire_reason}`);
  $("doc-meta").textContent = parts.join(" · ");
  $("doc-text").textContent = d.text;
  const ul = $("doc-directives");
  ul.replaceChildren();
  if (!d.directives.length) ul.append(el("li", { class: "hint", text: "Not read: no readings." }));
  for (const r of d.directives) {
    const review = r.reviewed_by ? ` — ${r.status} by ${r.reviewed_by}${r.review_reason ? `: ${r.review_reason}` : ""}` : "";
    ul.append(el("li", {},
      el("span", { class: `status ${r.status}`, text: r.status }), " ",
      `${r.summary} (confidence ${pct(r.confidence)})${review}`));
  }
}

// ------------------------------------------------------------------ readings
async function loadReadings() {
  const items = await api(`/api/kb/pending${qs({ shop_id: $("kb-shop").value })}`);
  $("readings-count").textContent = items.length;
  const list = $("readings");
  list.replaceChildren();
  if (!items.length) list.append(el("li", { class: "hint", text: "No reading waits for a person." }));
  for (const r of items) list.append(readingItem(r));
}

function readingItem(r) {
  const d = r.document;
  const li = el("li", { class: "reading", "data-id": String(r.id) },
    el("div", { class: "doc-head", text: docName(d) }),
    el("div", { class: "hint", text: `${d.shop_id} · ${d.kind} · dated ${d.doc_date} · key ${d.doc_key} v${d.version}` }),
    el("pre", { class: "doc-text", text: d.text }),
    el("div", { class: "reading-line" },
      el("span", { class: "confidence", text: pct(r.confidence), title: "the reader's confidence" }),
      el("span", { class: "summary", text: r.summary })));
  const result = el("p", { class: "result", role: "status" });
  if (r.can_write) {
    const reason = el("input", { class: "reason", type: "text", maxLength: 2000, placeholder: "why (required to reject)" });
    const confirm = el("button", { type: "submit", class: "confirm", text: "Confirm" });
    const reject = el("button", { type: "button", class: "reject danger", text: "Reject" });
    const form = el("form", {}, reason, el("div", { class: "buttons" }, confirm, reject));
    form.addEventListener("submit", (e) => { e.preventDefault(); review(r.id, "confirm", reason.value, result); });
    reject.addEventListener("click", () => review(r.id, "reject", reason.value, result));
    li.append(form);
  }
  li.append(result);
  return li;
}

async function review(id, verdict, reason, out) {
  out.className = "result busy";
  out.textContent = "Sending…";
  let note;
  try {
    const r = await api(`/api/kb/directives/${id}/review`, { method: "POST", body: JSON.stringify({ verdict, reason }) });
    note = { cls: "result ok", text: `#${id} ${r.status} by ${r.reviewed_by}: ${r.summary}` };
  } catch (err) {
    if (err.status !== 409) {  // a 422 (no reason) or 403 keeps the item open
      out.className = "result error";
      out.textContent = err.message;
      return;
    }
    note = { cls: "result conflict", text: `#${id} conflict: ${err.message}` };
  }
  await refresh();  // the reading left the list (reviewed, by this person or another)
  $("readings").prepend(el("li", { class: `note ${note.cls}`, text: note.text }));
}

// ------------------------------------------------------------------ wiring
document.addEventListener("DOMContentLoaded", () => {
  $("kb-shop").addEventListener("change", () => refresh());
  $("kb-status").addEventListener("change", () => loadDocuments());
  startPage("kb", async () => {
    await loadShops();
    await refresh();
    // a decision card links here as /kb?doc=ID
    const linked = Number(new URLSearchParams(window.location.search).get("doc"));
    if (Number.isInteger(linked) && linked > 0) {
      try { await openDocument(linked); } catch (err) { $("doc-empty").textContent = err.message; }
    }
  });
});
