// The timeline: an SVG of the next 24 hours or 7 days, a row per job, each expected run a bar as
// long as the job's median measured duration; heavy jobs darker, overlaps between heavy jobs
// marked across both rows, with the server's stagger suggestion listed below. A bar is a link
// to its job.
import { api, onEvent, throttle } from "./api.js";
import { duration, exact, h, notice } from "./format.js";

const SVG = "http://www.w3.org/2000/svg";
const LABEL = 170; // px for the job names
const ROW = 38;
const AXIS = 28;
let span = "day";

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export async function start() {
  const buttons = document.querySelectorAll("[data-span]");
  for (const button of buttons) {
    button.addEventListener("click", () => {
      span = button.dataset.span;
      for (const b of buttons) b.setAttribute("aria-pressed", String(b === button));
      load();
    });
  }
  const refresh = throttle(load, 2000);
  await load();
  onEvent((event) => {
    if (event.kind.startsWith("job.") || event.kind === "run.finished" || event.kind === "resync")
      refresh();
  });
  window.addEventListener("resize", throttle(() => last && draw(last), 200));
  setInterval(load, 60000);
}

let last = null;

async function load() {
  try {
    last = await api(`api/timeline?span=${span}`);
    draw(last);
    notice("");
  } catch (e) {
    notice(`Could not load the timeline: ${e.message}`);
  }
}

function hourFormat(tz, withDay) {
  const options = withDay ? { weekday: "short", day: "numeric" } : { hour: "2-digit", minute: "2-digit" };
  return new Intl.DateTimeFormat(undefined, { ...options, timeZone: tz });
}

function draw(data) {
  const figure = document.getElementById("timeline");
  figure.setAttribute("aria-busy", "false");
  const jobs = data.jobs.filter((job) => job.runs.length || job.paused || job.median_duration_seconds !== null);
  const width = Math.max(figure.clientWidth || 800, 480);
  const plot = width - LABEL - 12;
  const t0 = new Date(data.start).getTime();
  const t1 = new Date(data.end).getTime();
  const x = (iso) => LABEL + ((new Date(iso).getTime() - t0) / (t1 - t0)) * plot;
  const height = AXIS + Math.max(jobs.length, 1) * ROW + 8;
  const week = span === "week";
  const rowOf = new Map(jobs.map((job, i) => [job.name, i]));
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "group",
    "aria-labelledby": "timeline-title timeline-desc", class: "chart" });
  svg.append(s("title", { id: "timeline-title" }, `Expected runs over the next ${week ? "7 days" : "24 hours"}`));
  svg.append(s("desc", { id: "timeline-desc" }, describe(data, jobs)));
  jobs.forEach((job, i) => {
    if (i % 2) svg.append(s("rect", { class: "band", x: 0, y: AXIS + i * ROW, width, height: ROW }));
  });
  // The grid: every 3 hours (a day) or every day at midnight (a week), in the server's zone.
  const step = week ? 86400000 : 3 * 3600000;
  const label = hourFormat(data.tz, week);
  const grid = s("g", { class: "grid" });
  const first = firstTick(t0, step, data.tz, week);
  for (let t = first; t < t1; t += step) {
    const gx = LABEL + ((t - t0) / (t1 - t0)) * plot;
    if (gx < LABEL) continue;
    grid.append(s("line", { x1: gx, x2: gx, y1: AXIS - 6, y2: height - 4 }));
    grid.append(s("text", { x: gx + 3, y: AXIS - 10, class: "tick" }, label.format(new Date(t))));
  }
  svg.append(grid);
  svg.append(s("line", { class: "now", x1: LABEL, x2: LABEL, y1: AXIS - 6, y2: height - 4 }));
  svg.append(s("text", { class: "tick now-label", x: LABEL - 4, y: AXIS - 10, "text-anchor": "end" }, "now"));
  // Overlaps first, so the bars draw over them: one band across the rows of both jobs.
  for (const overlap of data.overlaps) {
    const rows = [overlap.first, overlap.second].filter((n) => rowOf.has(n)).map((n) => rowOf.get(n));
    if (rows.length === 0) continue;
    const top = AXIS + Math.min(...rows) * ROW + 2;
    const bottom = AXIS + (Math.max(...rows) + 1) * ROW - 2;
    const cx = x(overlap.start);
    const band = s("rect", { class: "clash", x: cx - 4, y: top, rx: 5, height: bottom - top,
      width: Math.max(x(overlap.end) - cx, 2) + 8 });
    band.append(s("title", {}, `${overlap.first} and ${overlap.second} overlap: ${overlap.suggestion}`));
    svg.append(band);
    svg.append(s("text", { class: "clash-mark", x: cx, y: top - 3, "text-anchor": "middle" }, "!"));
  }
  jobs.forEach((job, i) => {
    const y = AXIS + i * ROW;
    const href = `./?job=${encodeURIComponent(job.name)}`;
    const row = s("g", { class: `row${job.heavy ? " heavy" : ""}${job.paused ? " paused" : ""}` });
    const name = s("a", { href }, s("text", { x: 8, y: y + 16, class: "job" }, job.name));
    row.append(name);
    const sub = job.paused ? "paused"
      : job.median_duration_seconds === null ? "not measured yet"
        : `≈ ${duration(job.median_duration_seconds)}${job.heavy ? " · heavy" : ""}`;
    row.append(s("text", { x: 8, y: y + 30, class: "sub" }, sub));
    if (job.paused) {
      row.append(s("text", { x: LABEL + 6, y: y + ROW / 2 + 4, class: "tick" }, "no runs until resumed"));
    }
    const bars = s("a", { href, "aria-label": `${job.name}: ${job.runs.length} runs, ${job.schedule_description}` });
    const tall = job.heavy ? 22 : 12;
    for (const run of job.runs) {
      const bx = x(run.start);
      const bw = Math.max(x(run.end) - bx, job.median_duration_seconds === null ? 2 : 4);
      const bar = s("rect", { class: job.median_duration_seconds === null ? "bar unmeasured" : "bar",
        x: bx, y: y + (ROW - tall) / 2, width: bw, height: tall, rx: 3 });
      bar.append(s("title", {}, `${job.name}: ${exact(run.start, data.tz)}` +
        (job.median_duration_seconds === null ? " (no run measured yet)" : `, about ${duration(job.median_duration_seconds)}`)));
      bars.append(bar);
    }
    row.append(bars);
    if (job.truncated) row.append(s("text", { x: width - 8, y: y + ROW / 2 + 4, class: "tick", "text-anchor": "end" }, "…"));
    svg.append(row);
  });
  // The overlap bands again, unfilled, over the bars: the stretch stays visible on top.
  for (const band of svg.querySelectorAll("rect.clash")) {
    const outline = band.cloneNode(false);
    outline.setAttribute("class", "clash-outline");
    svg.append(outline);
  }
  figure.replaceChildren(jobs.length ? svg : h("p", { class: "empty" }, "No job is scheduled in this span."));
  const list = document.getElementById("overlaps");
  list.replaceChildren(data.overlaps.length === 0
    ? h("p", { class: "empty" }, `No heavy jobs overlap over the next ${week ? "7 days" : "24 hours"}.`)
    : h("ul", { class: "overlaps" }, data.overlaps.map((o) => h("li", {},
      zoom(o, data.tz),
      h("p", {},
        h("strong", {}, h("a", { href: `./?job=${encodeURIComponent(o.first)}` }, o.first), " and ",
          h("a", { href: `./?job=${encodeURIComponent(o.second)}` }, o.second)),
        ` overlap ${o.count === 1 ? "once" : `${o.count} times`}, first at ${exact(o.start, data.tz)}.`),
      h("p", { class: "suggestion" }, `Suggestion: ${o.suggestion}.`)))));
}

// One overlap up close: both runs to scale, from a little before the first to a little after.
function zoom(overlap, tz) {
  const runs = [[overlap.first, overlap.first_run], [overlap.second, overlap.second_run]];
  const from = new Date(overlap.first_run.start).getTime();
  const to = Math.max(...runs.map(([, r]) => new Date(r.end).getTime()));
  const pad = Math.max((to - from) * 0.12, 60000);
  const t0 = from - pad;
  const t1 = to + pad;
  const W = 420;
  const left = 120;
  const x = (iso) => left + ((new Date(iso).getTime() - t0) / (t1 - t0)) * (W - left - 10);
  const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: tz });
  const svg = s("svg", { viewBox: `0 0 ${W} 74`, width: W, height: 74, class: "chart zoom",
    role: "img", "aria-label": `${overlap.first} from ${clock.format(new Date(overlap.first_run.start))} to ${clock.format(new Date(overlap.first_run.end))}; ${overlap.second} from ${clock.format(new Date(overlap.second_run.start))} to ${clock.format(new Date(overlap.second_run.end))}` });
  svg.append(s("rect", { class: "clash", x: x(overlap.start), y: 4, height: 52, rx: 3,
    width: Math.max(x(overlap.end) - x(overlap.start), 2) }));
  runs.forEach(([name, run], i) => {
    const y = 8 + i * 24;
    svg.append(s("text", { x: 4, y: y + 13, class: "job" }, name));
    svg.append(s("rect", { class: "bar heavy-bar", x: x(run.start), y, height: 18, rx: 3,
      width: Math.max(x(run.end) - x(run.start), 3) }));
  });
  for (const t of [overlap.first_run.start, overlap.second_run.start, overlap.first_run.end]) {
    svg.append(s("text", { x: x(t), y: 70, class: "tick", "text-anchor": "middle" }, clock.format(new Date(t))));
  }
  return svg;
}

function firstTick(t0, step, tz, week) {
  // The first whole 3 hours (or midnight) in the server's zone after t0.
  const parts = new Intl.DateTimeFormat("en-GB", { timeZone: tz, hour: "2-digit", minute: "2-digit", hour12: false })
    .formatToParts(new Date(t0));
  const hour = Number(parts.find((p) => p.type === "hour").value) % 24;
  const minute = Number(parts.find((p) => p.type === "minute").value);
  const sinceMark = ((week ? hour : hour % 3) * 60 + minute) * 60000 + (t0 % 60000);
  return t0 - sinceMark + step;
}

function describe(data, jobs) {
  const parts = jobs.map((job) => `${job.name}: ${job.runs.length} runs` +
    (job.median_duration_seconds === null ? "" : `, about ${duration(job.median_duration_seconds)} each`));
  const clashes = data.overlaps.map((o) => `${o.first} overlaps ${o.second}`);
  return [...parts, ...clashes].join("; ");
}
