// The jobs page: a row per job (Sonarr's columns plus last success and failures), live over
// the event stream; Run now (with arguments), Pause/Resume with a note, and the gear that opens
// the schedule dialog (admins only: a viewer's page has no edit controls at all).
import { api, isAdmin, onEvent, throttle } from "./api.js";
import { message } from "./errors.js";
import { badge, duration, h, notice, progressOf, say, tone, when } from "./format.js";
import { openSchedule } from "./schedule.js";

let jobs = [];
let recent = new Map(); // job name -> its last runs, oldest first
const internal = () => document.getElementById("internal").checked;

export async function start() {
  const refresh = throttle(load, 300);
  document.getElementById("internal").addEventListener("change", refresh);
  await load();
  const wanted = new URLSearchParams(location.search).get("job");
  if (wanted) focusJob(wanted);
  window.addEventListener("popstate", () => {
    const name = new URLSearchParams(location.search).get("job");
    if (name) focusJob(name);
  });
  onEvent((event) => {
    // Progress moves a running run's bar in place; everything else may change the table.
    if (event.kind === "run.progress") moveProgress(event);
    else refresh();
  });
  if (isAdmin()) setUpDialogs(refresh);
}

function moveProgress(event) {
  const bar = document.getElementById(`progress-${event.run_id}`);
  const { done, total } = event.data;
  if (!bar || done === null || total === null || !(total > 0)) return;
  bar.value = Math.round(Math.max(0, Math.min(1, done / total)) * 100);
}

async function load() {
  try {
    const query = internal() ? "?internal=true" : "";
    const [listed, strips] = await Promise.all([
      api("api/jobs" + query),
      api("api/recent" + (query ? `${query}&n=12` : "?n=12")),
    ]);
    jobs = listed;
    recent = new Map(strips.map((strip) => [strip.job, strip.runs]));
    render();
    notice("");
  } catch (e) {
    notice(`Could not load the jobs: ${e.message}`);
  }
}

function focusJob(name) {
  const row = document.getElementById(`job-${name}`);
  if (!row) return false;
  for (const other of document.querySelectorAll("#jobs tr.target")) other.classList.remove("target");
  row.classList.add("target");
  row.scrollIntoView({ block: "center" });
  row.querySelector("th").focus();
  return true;
}

// A link to another job's row: on this page it moves to the row (and the address says which,
// so Back returns); a row not shown (rota's own jobs hidden) is reached by loading the page.
function jobLink(name) {
  const href = `./?job=${encodeURIComponent(name)}`;
  return h("a", { href, class: "job-link", onclick: (event) => {
    if (!document.getElementById(`job-${name}`)) return;
    event.preventDefault();
    history.pushState(null, "", href);
    focusJob(name);
  } }, name);
}

// Its chains: the jobs it runs after and the jobs that run after it (decision 0011).
function chain(job) {
  const parts = [];
  const list = (names) => names.flatMap((name, i) => [i ? ", " : "", jobLink(name)]);
  if (job.upstream.length) parts.push(h("span", { class: "upstream" }, "after ", list(job.upstream)));
  if (job.downstream.length)
    parts.push(h("span", { class: "downstream" }, "then ", list(job.downstream)));
  if (parts.length === 0) return null;
  return h("span", { class: "chain small" }, parts.flatMap((part, i) => [i ? " · " : "", part]));
}

function render() {
  const box = document.getElementById("jobs");
  box.setAttribute("aria-busy", "false");
  if (jobs.length === 0) {
    box.replaceChildren(h("p", { class: "empty" }, "No jobs yet."));
    return;
  }
  const focused = document.activeElement && document.activeElement.id;
  const head = ["Job", "Schedule", "Next run", "Last run", "Last success", "Failures"];
  if (isAdmin()) head.push("Actions");
  box.replaceChildren(
    h("table", { class: "table jobs" },
      h("caption", { class: "sr-only" }, "Jobs"),
      h("thead", {}, h("tr", {}, head.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, jobs.map((job) => row(job, load)))),
  );
  if (focused) document.getElementById(focused)?.focus();
}

function markers(job) {
  const list = [];
  if (job.paused)
    list.push(h("span", { class: "marker paused", title: job.pause_note || "" },
      job.pause_note ? `paused: ${job.pause_note}` : "paused"));
  if (Object.keys(job.overrides).length)
    list.push(h("span", { class: "marker", title: `changed: ${Object.keys(job.overrides).join(", ")}` },
      "overridden"));
  if (job.kind === "runtime") list.push(h("span", { class: "marker" }, "added at run time"));
  if (job.kind === "internal") list.push(h("span", { class: "marker" }, "rota's own"));
  if (job.orphaned)
    list.push(h("span", { class: "marker bad", title: "No live node defines it: it never fires." },
      "orphaned"));
  return list;
}

// The last runs as a strip of colours (Oban's history strip): one image for a screen reader,
// not a dozen tab stops.
function strip(name) {
  const runs = recent.get(name) || [];
  if (runs.length === 0) return null;
  const counts = {};
  for (const run of runs) counts[run.status] = (counts[run.status] || 0) + 1;
  let summary = Object.entries(counts).map(([status, n]) => `${n} ${status}`).join(", ");
  // Why the latest skip was skipped (a prerequisite not met, overlap): hover shows every run's.
  const skip = runs.filter((run) => run.status === "skipped" && run.note).pop();
  if (skip) summary += `; latest skip: ${skip.note}`;
  return h("span", { class: "strip", role: "img", "aria-label": `last ${runs.length} runs: ${summary}` },
    runs.map((run) => h("span", { class: `cell ${tone(run.status)}`,
      title: `#${run.id} ${run.status}${run.note ? `: ${run.note}` : ""}` })));
}

// The last run is the last that ran (a skip is not one); a skip since then says why beneath it,
// as a prerequisite not met would otherwise show only as a grey cell.
function lastRun(run, name) {
  const runs = recent.get(name) || [];
  const newest = runs[runs.length - 1];
  const skip = newest && newest.status === "skipped" && newest.note && (!run || newest.id > run.id)
    ? h("a", { href: `runs/${newest.id}`, class: "why small", title: newest.note },
      `skipped: ${newest.note}`)
    : null;
  if (!run) return h("span", { class: "stack" }, strip(name), h("span", { class: "muted" }, "never"), skip);
  return h("span", { class: "stack" }, strip(name),
    h("a", { href: `runs/${run.id}` }, badge(run.status)),
    h("span", { class: "small" }, duration(run.duration_seconds), " · ",
      when(run.finished_at || run.started_at || run.queued_at)),
    skip);
}

function nextRun(job) {
  if (job.paused) return h("span", { class: "muted" }, "paused");
  if (job.running.length) {
    const run = job.running[0];
    const share = progressOf(run);
    return h("span", { class: "stack" }, h("a", { href: `runs/${run.id}` }, badge("running")),
      h("progress", { class: "mini", id: `progress-${run.id}`, max: "100",
        value: share === null ? null : String(Math.round(share * 100)),
        "aria-label": `Progress of ${job.name} #${run.id}` }),
      job.next_fire_at ? when(job.next_fire_at, { nowWord: "now" }) : null);
  }
  if (job.next_fire_at) return when(job.next_fire_at, { nowWord: "now" });
  return h("span", { class: "muted" }, unscheduled(job));
}

// Why a job has no next fire time: it runs after others, only by hand, or its one time passed.
function unscheduled(job) {
  const kind = job.schedule.data.kind;
  if (kind === "after") {
    const jobs = job.schedule.data.jobs;
    return `when ${jobs.join(" and ")} succeed${jobs.length > 1 ? "" : "s"}`;
  }
  if (kind === "manual") return "by hand only";
  return "not scheduled";
}

// Words for a screen reader only: which job a row's button acts on.
function hidden(text) {
  return h("span", { class: "sr-only" }, ` ${text}`);
}

function row(job, refresh) {
  const id = (what) => `${what}-${job.name}`;
  const cells = [
    h("th", { scope: "row", "data-label": "Job", tabindex: "-1" },
      h("span", { class: "name" }, job.name),
      job.description ? h("span", { class: "description" }, job.description) : null,
      h("span", { class: "markers" }, markers(job)),
      chain(job)),
    h("td", { "data-label": "Schedule", title: job.schedule.text }, job.schedule.description,
      job.queued ? h("span", { class: "small muted" }, ` · ${job.queued} queued`) : null),
    h("td", { "data-label": "Next run" }, nextRun(job)),
    h("td", { "data-label": "Last run" }, lastRun(job.last_run, job.name)),
    h("td", { "data-label": "Last success" },
      job.last_success ? when(job.last_success.finished_at) : h("span", { class: "muted" }, "never")),
    h("td", { "data-label": "Failures", class: job.consecutive_failures ? "bad-text" : "" },
      String(job.consecutive_failures)),
  ];
  if (isAdmin()) {
    cells.push(h("td", { "data-label": "Actions" }, h("div", { class: "actions" },
      h("button", { type: "button", id: id("run"), onclick: () => openRun(job),
        disabled: job.orphaned }, "Run now", hidden(job.name)),
      job.paused
        ? h("button", { type: "button", id: id("resume"), onclick: () => resume(job) },
          "Resume", hidden(job.name))
        : h("button", { type: "button", id: id("pause"), onclick: () => openPause(job) },
          "Pause", hidden(job.name)),
      h("button", { type: "button", id: id("gear"), class: "gear",
        "aria-label": `Schedule and policies of ${job.name}`, title: "Schedule and policies",
        onclick: () => openSchedule(job, refresh) }, "⚙"))));
  }
  return h("tr", { id: `job-${job.name}`, class: job.paused ? "paused" : "" }, cells);
}

// -- Run now, Pause, Resume -------------------------------------------------------------------

let current = null;

function setUpDialogs(refresh) {
  const runDialog = document.getElementById("run-dialog");
  document.getElementById("run-cancel").addEventListener("click", () => runDialog.close());
  document.getElementById("run-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = document.getElementById("run-error");
    const field = document.getElementById("run-args");
    let args;
    try {
      args = field.value.trim() ? JSON.parse(field.value) : {};
      if (args === null || typeof args !== "object" || Array.isArray(args))
        throw new Error("give an object, like {\"full\": true}");
    } catch (e) {
      error.textContent = `Arguments: ${e.message}`;
      field.setAttribute("aria-invalid", "true");
      field.focus();
      return;
    }
    try {
      const created = await api(`api/jobs/${encodeURIComponent(current.name)}/runs`,
        { method: "POST", body: { args } });
      runDialog.close();
      say(created.status === "skipped"
        ? `Run ${created.id} of ${current.name} was skipped: ${created.note}`
        : `Run ${created.id} of ${current.name} queued.`);
      refresh();
    } catch (e) {
      error.textContent = message(e);
      field.setAttribute("aria-invalid", "true");
    }
  });
  const pauseDialog = document.getElementById("pause-dialog");
  document.getElementById("pause-cancel").addEventListener("click", () => pauseDialog.close());
  document.getElementById("pause-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const note = document.getElementById("pause-note").value.trim();
    try {
      await api(`api/jobs/${encodeURIComponent(current.name)}`,
        { method: "PATCH", body: note ? { paused: true, note } : { paused: true } });
      pauseDialog.close();
      refresh();
    } catch (e) {
      document.getElementById("pause-error").textContent = message(e);
    }
  });
}


function openRun(job) {
  current = job;
  document.getElementById("run-title").textContent = `Run ${job.name} now`;
  const field = document.getElementById("run-args");
  field.value = JSON.stringify(job.settings.args || {}, null, 1);
  field.removeAttribute("aria-invalid");
  document.getElementById("run-error").textContent = "";
  document.getElementById("run-dialog").showModal();
  field.focus();
}

function openPause(job) {
  current = job;
  document.getElementById("pause-title").textContent = `Pause ${job.name}`;
  document.getElementById("pause-note").value = "";
  document.getElementById("pause-error").textContent = "";
  document.getElementById("pause-dialog").showModal();
  document.getElementById("pause-note").focus();
}

async function resume(job) {
  try {
    await api(`api/jobs/${encodeURIComponent(job.name)}`, { method: "PATCH", body: { paused: false } });
    load();
  } catch (e) {
    notice(message(e));
  }
}
