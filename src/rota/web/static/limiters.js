// Limiters: each shared rate limit's use of its capacity as a bar and numbers, its period, and
// its next refill as a countdown. Use changes without events (a token taken is not an event),
// so the page polls every 2 s while it is shown, and re-words the countdowns every second.
import { api, onEvent, throttle } from "./api.js";
import { duration, exact, h, notice } from "./format.js";

const POLL = 2000;
let limiters = null;
let poll = null;

export async function start() {
  const refresh = throttle(load, 500);
  await load();
  // A run starting or ending often takes capacity; progress is too frequent to follow.
  onEvent((event) => {
    if (event.kind !== "run.progress") refresh();
  });
  const schedule = () => {
    if (poll === null && !document.hidden) poll = setInterval(load, POLL);
  };
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      clearInterval(poll);
      poll = null;
    } else {
      load();
      schedule();
    }
  });
  schedule();
  setInterval(() => {
    for (const el of document.querySelectorAll("#limiters time[data-countdown]"))
      el.textContent = countdown(el.dateTime);
  }, 1000);
}

async function load() {
  try {
    limiters = await api("api/limiters");
    render();
    notice("");
  } catch (e) {
    notice(`Could not load the limiters: ${e.message}`);
  }
}

// "in 4 s", "in 3 min 20 s", "in 5 h": to the second while it is near, as a refill usually is.
export function countdown(iso) {
  const seconds = Math.ceil((new Date(iso).getTime() - Date.now()) / 1000);
  if (seconds <= 0) return "now";
  if (seconds < 60) return `in ${seconds} s`;
  if (seconds < 3600) {
    const rest = seconds % 60;
    return `in ${Math.floor(seconds / 60)} min${rest ? ` ${rest} s` : ""}`;
  }
  return `in ${duration(seconds)}`;
}

const UNITS = [[86400, "day", "d"], [3600, "hour", "h"], [60, "minute", "min"], [1, "second", "s"]];

// A span in its largest whole unit ("10 s", "2 h", "1 d"), else in words ("1 min 30 s").
function whole(seconds) {
  for (const [size, word, short] of UNITS)
    if (seconds >= size && Number.isInteger(seconds / size)) return [seconds / size, word, short];
  return null;
}

export function span(seconds) {
  const found = whole(seconds);
  return found ? `${found[0]} ${found[2]}` : duration(seconds);
}

// A period as a limit is written: "per 10 s", "per minute", "per day".
export function per(seconds) {
  const found = whole(seconds);
  if (found && found[0] === 1) return `per ${found[1]}`;
  return `per ${span(seconds)}`;
}

const count = (n) => n.toLocaleString();

function use(limiter) {
  const share = limiter.capacity > 0 ? limiter.in_use / limiter.capacity : 0;
  return h("span", { class: "use" },
    h("meter", { min: "0", max: String(limiter.capacity), value: String(limiter.in_use),
      low: String(limiter.capacity * 0.5), high: String(limiter.capacity * 0.9), optimum: "0",
      "aria-label": `Use of ${limiter.name}` }),
    h("span", { class: "numbers" }, `${count(limiter.in_use)} of ${count(limiter.capacity)}`,
      h("span", { class: "muted" }, ` (${Math.round(share * 100)}%)`)),
    limiter.in_use >= limiter.capacity
      ? h("span", { class: "marker paused", title: "Runs that ask for tokens wait for the refill." },
        "used up")
      : null);
}

function refill(limiter) {
  if (!limiter.next_refill) return h("span", { class: "muted" }, "nothing in use");
  return h("time", { datetime: limiter.next_refill, title: exact(limiter.next_refill),
    dataset: { countdown: "" } }, countdown(limiter.next_refill));
}

function render() {
  const box = document.getElementById("limiters");
  box.setAttribute("aria-busy", "false");
  if (limiters.length === 0) {
    box.replaceChildren(h("div", { class: "empty" },
      h("p", {}, "This app declares no rate limiters."),
      h("p", {}, "Declare one in its code, and take its tokens in a job: ",
        h("code", {}, 'rota.limiter("tmdb", 40, per="10s")'), " and ",
        h("code", {}, 'with ctx.limit("tmdb"): ...'), ".")));
    return;
  }
  box.replaceChildren(h("table", { class: "table limiters" },
    h("caption", { class: "sr-only" }, "Limiters"),
    h("thead", {}, h("tr", {}, ["Limiter", "In use", "Limit", "Next refill", "Waits up to"]
      .map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, limiters.map((limiter) => h("tr", { id: `limiter-${limiter.name}` },
      h("th", { scope: "row", "data-label": "Limiter" }, h("span", { class: "name" }, limiter.name),
        limiter.declared ? null : h("span", { class: "markers" }, h("span", { class: "marker",
          title: "Only the store knows it: the code this server runs does not declare it." },
        "not declared here"))),
      h("td", { "data-label": "In use" }, use(limiter)),
      h("td", { "data-label": "Limit" }, `${count(limiter.capacity)} ${per(limiter.period_seconds)}`),
      h("td", { "data-label": "Next refill" }, refill(limiter)),
      h("td", { "data-label": "Waits up to", title: "A run that would wait longer for capacity "
        + "ends skipped and is retried when the capacity is back." },
      limiter.max_wait_seconds === null ? h("span", { class: "muted" }, "–")
        : span(limiter.max_wait_seconds)))))));
}
