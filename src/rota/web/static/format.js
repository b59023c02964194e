// Small helpers: building elements, and times and durations in words.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

// "in 3 h 12 min", "2 h ago"; `nowWord` for a time already past that should have happened.
export function relative(iso, { nowWord = null } = {}) {
  if (!iso) return "–";
  const seconds = (new Date(iso).getTime() - Date.now()) / 1000;
  if (seconds <= 0 && nowWord) return nowWord;
  const span = roughly(Math.abs(seconds));
  if (span === null) return seconds > 0 ? "in a moment" : "just now";
  return seconds > 0 ? `in ${span}` : `${span} ago`;
}

function roughly(seconds) {
  if (seconds < 45) return null;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}

export function exact(iso, timeZone) {
  if (!iso) return "";
  // 24-hour times, as schedules are written ("daily 04:30"), with the weekday.
  const options = { weekday: "short", year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (timeZone) options.timeZone = timeZone;
  try {
    return new Intl.DateTimeFormat(undefined, options).format(new Date(iso));
  } catch {
    return new Date(iso).toLocaleString();
  }
}

// A <time> whose text is relative and whose title (hover) is the exact local time; main.js
// re-words every such element each 20 s.
export function when(iso, options = {}) {
  if (!iso) return h("span", { class: "muted" }, "–");
  return h(
    "time",
    { datetime: iso, title: exact(iso), dataset: { relative: options.nowWord || "" } },
    relative(iso, options),
  );
}

export function rewordTimes() {
  for (const el of document.querySelectorAll("time[datetime]")) {
    const nowWord = el.dataset.relative || null;
    if (el.dataset.relative !== undefined) el.textContent = relative(el.dateTime, { nowWord });
  }
}

const FAILED = new Set(["failed", "timed-out", "interrupted"]);

export function tone(status) {
  return status === "succeeded" ? "ok" : FAILED.has(status) ? "bad"
    : status === "running" ? "busy" : status === "queued" ? "wait" : "quiet";
}

export function badge(status) {
  return h("span", { class: `badge ${tone(status)}` }, status);
}

export function retryable(status) {
  return FAILED.has(status) || status === "cancelled";
}

export function notice(message) {
  const el = document.getElementById("notice");
  if (!el) return;
  el.textContent = message || "";
  el.hidden = !message;
}

// A line of news that is not an error ("Retry queued: run 12."), read out politely.
export function say(message) {
  const el = document.getElementById("message");
  if (el) el.textContent = message || "";
}

export function progressOf(run) {
  const done = run.progress_done;
  const total = run.progress_total;
  if (done === null || total === null || !(total > 0)) return null;
  return Math.max(0, Math.min(1, done / total));
}
