// The API as the page uses it: JSON requests with the session cookie (and the CSRF token on
// writes), the session itself, and the live event stream. Every URL is relative to <base>.

let session = null; // {role, csrf_token}, read from GET api/session after every load

export class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.message || body.detail)) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

export function loginUrl() {
  const here = location.pathname + location.search;
  const root = new URL(document.baseURI).pathname;
  const next = here.startsWith(root) ? here.slice(root.length) : "";
  return "login" + (next ? "?next=" + encodeURIComponent(next) : "");
}

export async function api(path, { method = "GET", body, redirect = true } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && session) headers["X-CSRF-Token"] = session.csrf_token;
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (response.status === 401 && redirect) {
    location.assign(loginUrl());
    throw new ApiError(401, data);
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export async function loadSession() {
  session = await api("api/session");
  return session;
}

export function isAdmin() {
  return session !== null && session.role === "admin";
}

export async function login(token) {
  session = await api("api/session", { method: "POST", body: { token }, redirect: false });
  return session;
}

export async function logout() {
  try {
    await api("api/session", { method: "DELETE", redirect: false });
  } finally {
    session = null;
  }
}

// The event stream: one EventSource for the page, closed while the tab is hidden and reopened
// (after the last event seen) when it shows again; the browser itself reconnects after a
// dropped connection, sending Last-Event-ID.
const listeners = new Set();
let source = null;
let lastId = null;

export function onEvent(listener) {
  listeners.add(listener);
  if (source === null && !document.hidden) connect();
}

function status(text, state) {
  const live = document.getElementById("live");
  if (!live) return;
  live.textContent = text;
  live.dataset.state = state;
}

function connect() {
  const url = "api/events" + (lastId === null ? "" : "?after=" + lastId);
  source = new EventSource(url);
  source.onopen = () => status("live", "open");
  source.onerror = () => {
    if (source && source.readyState === EventSource.CLOSED) {
      // A refused stream (401: the session ended) is not retried by the browser.
      source = null;
      status("offline", "closed");
      api("api/session").then(() => setTimeout(connect, 2000), () => {});
    } else {
      status("reconnecting…", "connecting");
    }
  };
  source.onmessage = deliver;
  for (const kind of KINDS) source.addEventListener(kind, deliver);
}

const KINDS = [
  "job.added", "job.changed", "job.paused", "job.resumed", "job.removed",
  "run.queued", "run.skipped", "run.started", "run.progress", "run.finished",
  "run.cancelling", "run.cancelled", "run.interrupted",
];

function deliver(message) {
  if (message.lastEventId) lastId = Number(message.lastEventId);
  let event;
  try {
    event = JSON.parse(message.data);
  } catch {
    return;
  }
  for (const listener of listeners) listener(event);
}

document.addEventListener("visibilitychange", () => {
  if (listeners.size === 0) return;
  if (document.hidden && source) {
    source.close();
    source = null;
    status("paused while hidden", "paused");
  } else if (!document.hidden && source === null) {
    connect();
    for (const listener of listeners) listener({ kind: "resync" });
  }
});

// Many events in a burst make few refreshes: `fn` runs at once, then at most every `ms`.
export function throttle(fn, ms) {
  let timer = null;
  let pending = false;
  const run = () => {
    pending = false;
    fn();
    timer = setTimeout(() => {
      timer = null;
      if (pending) run();
    }, ms);
  };
  return () => {
    if (timer !== null) pending = true;
    else run();
  };
}
