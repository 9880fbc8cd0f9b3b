// ShopOps pages' shared parts: the bearer-token sign-in (the token lives in sessionStorage,
// this tab only), the API call with its error text, and the text-only element builder.
// A page calls startPage(mainId, onSignedIn) once its own handlers are wired.
"use strict";

const $ = (id) => document.getElementById(id);
const session = { token: sessionStorage.getItem("shopops-token") || "", me: null };
const page = { main: null, onSignedIn: async () => {} };

// ------------------------------------------------------------------ API
async function api(path, options = {}) {
  const res = await fetch(path, {
    ...options,
    headers: {
      "Authorization": `Bearer ${session.token}`,
      ...(options.body ? { "Content-Type": "application/json" } : {}),
    },
  });
  let body = null;
  try { body = await res.json(); } catch (_) { body = null; }
  if (res.status === 401) { signOut(body && body.detail); }
  if (!res.ok) {
    const err = new Error(problemText(res.status, body));
    err.status = res.status;
    err.body = body;
    throw err;
  }
  return body;
}

function problemText(status, body) {
  if (!body) return `HTTP ${status}`;
  if (Array.isArray(body.detail)) {  // 422 field errors
    return body.detail.map((e) => `${e.loc.slice(1).join(".")}: ${e.msg}`).join("; ");
  }
  return body.detail || `HTTP ${status}`;
}

// Elements from text only: nothing is ever parsed as HTML.
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) if (c != null) node.append(c);  // strings become text nodes
  return node;
}

// ------------------------------------------------------------------ sign in / out
async function signIn(token) {
  session.token = token;
  try {
    session.me = await api("/api/me");
  } catch (err) {
    $("login-error").textContent = err.message;
    session.token = "";
    return;
  }
  sessionStorage.setItem("shopops-token", token);
  $("login-panel").hidden = true;
  $(page.main).hidden = false;
  $("whoami").hidden = false;
  const me = session.me;
  $("user").textContent = `${me.name} · ${me.role} · ${me.shops ? me.shops.join(", ") : "all shops"}`;
  await page.onSignedIn();
}

function signOut(reason) {
  sessionStorage.removeItem("shopops-token");
  session.token = ""; session.me = null;
  $(page.main).hidden = true; $("whoami").hidden = true; $("login-panel").hidden = false;
  $("login-error").textContent = reason || "";
}

function startPage(main, onSignedIn) {
  page.main = main;
  page.onSignedIn = onSignedIn;
  $("login-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token").value.trim()); });
  $("logout").addEventListener("click", () => signOut());
  if (session.token) signIn(session.token);
}
