// Activity: running runs with live progress, queued runs, and the history with filters and
// paging (cursor pages, newest first). Running and queued follow the event stream; the history
// refreshes live only on its first page, so a page being read does not shift under the reader.
import { api, onEvent, throttle } from "./api.js";
import { badge, duration, h, notice, when } from "./format.js";
import { progressBar, runActions } from "./runs.js";

const PAGE = 25;
let cursors = [null]; // the cursor of each page seen; the last is the page shown
let nextCursor = null;
let parent = null; // ?parent_run_id=N: only the runs that run spawned (from a run's page)

export async function start() {
  const form = document.getElementById("filters");
  const params = new URLSearchParams(location.search);
  for (const name of ["job", "status", "reason"]) if (params.get(name)) form.elements[name].dataset.want = params.get(name);
  if (/^[1-9]\d*$/.test(params.get("parent_run_id") || "")) showParent(Number(params.get("parent_run_id")));
  await loadJobNames(form);
  const active = throttle(loadActive, 400);
  const history = throttle(() => loadHistory(), 600);
  form.addEventListener("change", () => {
    cursors = [null];
    loadHistory();
  });
  form.addEventListener("reset", () => {
    showParent(null);
    setTimeout(() => form.dispatchEvent(new Event("change")), 0);
  });
  document.getElementById("older").addEventListener("click", () => {
    cursors.push(nextCursor);
    loadHistory();
  });
  document.getElementById("newer").addEventListener("click", () => {
    cursors.pop();
    loadHistory();
  });
  await Promise.all([loadActive(), loadHistory()]);
  onEvent((event) => {
    if (event.kind === "resync" || event.kind.startsWith("run.")) {
      active();
      if (cursors.length === 1 && event.kind !== "run.progress") history();
    }
  });
}

async function loadJobNames(form) {
  try {
    const jobs = await api("api/jobs?internal=true");
    const select = form.elements.job;
    for (const job of jobs) select.append(h("option", {}, job.name));
  } catch (e) {
    notice(`Could not load the jobs: ${e.message}`);
  }
  for (const name of ["job", "status", "reason"]) {
    const el = form.elements[name];
    if (el.dataset.want) el.value = el.dataset.want;
  }
}

// The spawned-by filter: a chip in the filters, with a button that drops it.
function showParent(runId) {
  parent = runId;
  document.getElementById("parent-filter")?.remove();
  if (runId === null) return;
  document.getElementById("filters").prepend(h("span", { class: "filter chip-filter", id: "parent-filter" },
    h("span", { class: "small muted" }, "Spawned by"),
    h("span", {}, h("a", { href: `runs/${runId}` }, `#${runId}`), " ",
      h("button", { type: "button", class: "quiet", "aria-label": "Clear the spawned-by filter",
        onclick: () => {
          showParent(null);
          cursors = [null];
          loadHistory();
        } }, "✕"))));
}

function filters() {
  const form = document.getElementById("filters");
  const query = new URLSearchParams();
  for (const name of ["job", "status", "reason"]) {
    if (form.elements[name].value) query.set(name, form.elements[name].value);
  }
  for (const name of ["since", "until"]) {
    const value = form.elements[name].value;
    if (value) query.set(name, new Date(value).toISOString());
  }
  if (parent !== null) query.set("parent_run_id", String(parent));
  return query;
}

async function loadActive() {
  try {
    const [running, queued] = await Promise.all([
      api("api/runs?status=running&limit=100"),
      api("api/runs?status=queued&limit=100"),
    ]);
    document.getElementById("running").replaceChildren(runningList(running.items));
    latestLines(running.items.slice(0, 10));
    document.getElementById("queued").replaceChildren(table(queued.items, "Queued runs", true));
  } catch (e) {
    notice(`Could not load the runs: ${e.message}`);
  }
}

async function loadHistory() {
  const query = filters();
  query.set("limit", String(PAGE));
  const cursor = cursors[cursors.length - 1];
  if (cursor !== null) query.set("cursor", String(cursor));
  try {
    const page = await api(`api/runs?${query}`);
    nextCursor = page.next_cursor;
    document.getElementById("history").replaceChildren(table(page.items, "Run history", false));
    const first = (cursors.length - 1) * PAGE + 1;
    document.getElementById("page-info").textContent = page.total === 0 ? "no runs"
      : `${first} to ${first + page.items.length - 1} of ${page.total}`;
    document.getElementById("older").disabled = nextCursor === null;
    document.getElementById("newer").disabled = cursors.length === 1;
    notice("");
  } catch (e) {
    notice(`Could not load the history: ${e.message}`);
  }
}

// The latest log line of each running run: its log comes with the run's detail, read at most
// every 2 s per run (a log can be long; progress events come much more often).
const lines = new Map(); // run id -> {line, at}

async function latestLines(runs) {
  const now = Date.now();
  await Promise.all(runs.map(async (run) => {
    const known = lines.get(run.id);
    if (known && now - known.at < 2000) return;
    lines.set(run.id, { line: known ? known.line : "", at: now });
    try {
      const detail = await api(`api/runs/${run.id}`);
      const last = (detail.log || "").trimEnd().split("\n").pop();
      lines.set(run.id, { line: last, at: now });
    } catch {
      return; // the card stays as it is
    }
    const el = document.querySelector(`#running-${run.id} .last-line`);
    if (el) el.textContent = lines.get(run.id).line;
  }));
}

function runningList(runs) {
  if (runs.length === 0) return h("p", { class: "empty" }, "Nothing is running.");
  return h("ul", { class: "cards" }, runs.map((run) =>
    h("li", { class: "card", id: `running-${run.id}` },
      h("div", { class: "card-head" },
        h("a", { href: `runs/${run.id}` }, h("strong", {}, run.job), ` #${run.id}`),
        h("span", { class: "small muted" }, `${run.reason} · started `, when(run.started_at)),
        h("span", { class: "actions" }, runActions(run, loadActive))),
      progressBar(run),
      h("code", { class: "last-line small", title: "The latest log line" },
        lines.has(run.id) ? lines.get(run.id).line : ""))));
}

function table(runs, caption, queued) {
  if (runs.length === 0) return h("p", { class: "empty" }, queued ? "Nothing is queued." : "No runs match.");
  const head = ["Run", "Job", "Status", "Reason", queued ? "Queued" : "Started", "Duration", "Node", ""];
  return h("table", { class: "table runs" },
    h("caption", { class: "sr-only" }, caption),
    h("thead", {}, h("tr", {}, head.map((t) => h("th", { scope: "col" }, t || h("span", { class: "sr-only" }, "Actions"))))),
    h("tbody", {}, runs.map((run) => h("tr", { id: `${queued ? "queued" : "run"}-${run.id}` },
      h("td", { "data-label": "Run" }, h("a", { href: `runs/${run.id}` }, `#${run.id}`)),
      h("td", { "data-label": "Job" }, run.job),
      h("td", { "data-label": "Status", title: run.error || run.note || "" }, badge(run.status),
        run.attempt > 1 ? h("span", { class: "small muted" }, ` attempt ${run.attempt}`) : null,
        run.status === "skipped" && run.note ? h("span", { class: "why small" }, run.note) : null),
      h("td", { "data-label": "Reason" }, run.reason),
      h("td", { "data-label": queued ? "Queued" : "Started" },
        when(queued ? run.queued_at : run.started_at || run.queued_at)),
      h("td", { "data-label": "Duration" }, duration(run.duration_seconds)),
      h("td", { "data-label": "Node", class: "small" }, run.node || "–"),
      h("td", {}, h("div", { class: "actions" },
        runActions(run, () => { loadActive(); loadHistory(); }))),
    ))));
}
