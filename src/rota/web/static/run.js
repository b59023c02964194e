// One run: its times, reason, attempt (with links to the others), node, arguments, the log
// (followed live while it runs: progress events, and a poll every 2 s since log lines are not
// events) and the traceback.
import { api, onEvent, throttle } from "./api.js";
import { badge, duration, exact, h, notice, when } from "./format.js";
import { progressBar, runActions } from "./runs.js";

const id = Number(document.body.dataset.runId);
let follow = null;

export async function start() {
  const refresh = throttle(load, 500);
  await load();
  onEvent((event) => {
    if (event.run_id === id || event.kind === "resync") refresh();
  });
}

async function load() {
  let run;
  try {
    run = await api(`api/runs/${id}`);
  } catch (e) {
    notice(e.status === 404 ? `There is no run ${id}.` : `Could not load run ${id}: ${e.message}`);
    document.getElementById("run").setAttribute("aria-busy", "false");
    return;
  }
  notice("");
  document.title = `${run.job} #${run.id} · rota`;
  document.getElementById("run-title").replaceChildren(`${run.job} #${run.id} `, badge(run.status));
  document.getElementById("run-actions").replaceChildren(...runActions(run, load));
  const box = document.getElementById("run");
  const shown = await details(run); // links to other runs are read first: busy until drawn
  box.replaceChildren(shown);
  box.setAttribute("aria-busy", "false");
  const log = document.getElementById("log");
  const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  log.textContent = run.log || "(nothing logged)";
  if (atEnd) log.scrollTop = log.scrollHeight;
  const active = run.status === "running" || run.status === "queued";
  document.getElementById("log-follow").textContent = active ? "(following)" : "";
  if (active && follow === null) follow = setInterval(load, 2000);
  if (!active && follow !== null) {
    clearInterval(follow);
    follow = null;
  }
  document.getElementById("traceback-section").hidden = !run.traceback;
  document.getElementById("traceback").textContent = run.traceback || "";
}

async function attempts(run) {
  const links = [];
  if (run.retry_of) links.push(h("a", { href: `runs/${run.retry_of}` }, `previous: #${run.retry_of}`));
  try {
    const page = await api(`api/runs?job=${encodeURIComponent(run.job)}&reason=retry&limit=100`);
    for (const other of page.items.filter((r) => r.retry_of === run.id).reverse())
      links.push(h("a", { href: `runs/${other.id}` }, `next: #${other.id}`));
  } catch {
    // the links are a convenience: the run itself is shown regardless
  }
  return links;
}

// A link to another run, named by its job when it is still kept ("refresh-shows #12").
async function runLink(runId) {
  try {
    const other = await api(`api/runs/${runId}`);
    return h("a", { href: `runs/${runId}` }, `${other.job} #${runId}`);
  } catch (e) {
    if (e.status === 404) return h("span", {}, `#${runId} `, h("span", { class: "muted" }, "(no longer kept)"));
    return h("a", { href: `runs/${runId}` }, `#${runId}`);
  }
}

// Where the run came from: the run that spawned it, or the upstream runs whose successes
// triggered it (`upstream_runs`, job name -> run id, {} for other runs).
async function origin(run) {
  if (run.reason === "spawned" && run.parent_run_id)
    return ["Spawned by", await runLink(run.parent_run_id)];
  const upstream = Object.entries(run.upstream_runs || {});
  if (upstream.length)
    return ["After", h("span", { class: "links" }, upstream.map(([job, runId]) =>
      h("a", { href: `runs/${runId}` }, `${job} #${runId}`)))];
  return null;
}

// The runs it spawned: how many, the first few, and the rest in the activity history.
const SHOWN_SPAWNS = 5;

async function spawned(run) {
  let page;
  try {
    page = await api(`api/runs?parent_run_id=${run.id}&limit=${SHOWN_SPAWNS}`);
  } catch {
    return null; // a convenience: the run itself is shown regardless
  }
  if (page.total === 0) return null;
  const all = `activity?parent_run_id=${run.id}`;
  return ["Spawned", h("span", { class: "links" },
    h("a", { href: all, class: "count" }, `${page.total} run${page.total === 1 ? "" : "s"}`), ": ",
    page.items.map((child) => h("a", { href: `runs/${child.id}` }, `${child.job} #${child.id}`)),
    page.total > page.items.length ? h("a", { href: all }, `and ${page.total - page.items.length} more`)
      : null)];
}

async function details(run) {
  const rows = [
    ["Job", h("a", { href: `./?job=${encodeURIComponent(run.job)}` }, run.job)],
    ["Status", [badge(run.status), run.note ? ` ${run.note}` : "", run.error ? h("span", { class: "bad-text" }, ` ${run.error}`) : ""]],
    ["Reason", run.reason],
    await origin(run),
    await spawned(run),
    ["Fire time", run.fire_time ? exact(run.fire_time) : "– (not from the schedule)"],
    ["Queued", time(run.queued_at)],
    ["Not before", run.not_before ? time(run.not_before) : null],
    ["Started", time(run.started_at)],
    ["Finished", time(run.finished_at)],
    ["Duration", duration(run.duration_seconds)],
    ["Attempt", [String(run.attempt), " ", ...(await attempts(run)).flatMap((a) => [a, " "])]],
    ["Node", run.node || "–"],
    ["Arguments", h("code", {}, JSON.stringify(run.args))],
  ];
  if (run.status === "running") rows.push(["Progress", progressBar(run)]);
  return h("dl", { class: "details" }, rows.filter((row) => row !== null && row[1] !== null)
    .flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function time(iso) {
  return iso ? [exact(iso), " (", when(iso), ")"] : "–";
}
