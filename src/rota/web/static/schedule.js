// The schedule dialog: build a schedule's text from the chosen type's fields, preview its next
// 5 fire times in the server's zone as the admin types (debounced), show the field at fault,
// and save only what changed (the API applies a change all or nothing).
import { ApiError, api } from "./api.js";
import { exact } from "./format.js";
import { message } from "./errors.js";

const POLICIES = ["overlap", "catch_up", "retry", "timeout"];
const DIALOG_SETTINGS = ["schedule", ...POLICIES];
let job = null;
let done = null;
let timer = null;
let asked = 0;

const $ = (id) => document.getElementById(id);
const form = () => $("schedule-form");

export function openSchedule(target, refresh) {
  job = target;
  done = refresh;
  $("schedule-title").textContent = `Schedule of ${job.name}`;
  fill(job.schedule.data, job.schedule.text);
  for (const name of POLICIES) {
    const value = policyValue(name, job.settings[name]);
    form().elements[name].value = value;
    const fallback = policyValue(name, job.defaults[name]);
    const overridden = name in job.overrides;
    $(`d-${name}`).textContent = overridden
      ? `default: ${fallback === "" ? "none" : fallback} · changed`
      : `default${fallback === "" ? ": none" : ""}`;
    $(`d-${name}`).classList.toggle("changed", overridden);
  }
  $("policy-error").textContent = "";
  for (const name of POLICIES) form().elements[name].removeAttribute("aria-invalid");
  $("schedule-reset").disabled = !DIALOG_SETTINGS.some((s) => s in job.overrides);
  setUp();
  $("schedule-dialog").showModal();
  $("s-kind").focus();
  preview();
}

function policyValue(name, value) {
  if (name === "retry") return value && typeof value === "object" ? String(value.attempts) : String(value ?? 1);
  if (value === null || value === undefined) return "";
  return String(value);
}

// The form's fields from a schedule's JSON form (its text when the type has no fields here).
function fill(data, text) {
  const f = form();
  for (const box of f.querySelectorAll("input[name=day]")) box.checked = false;
  const kind = data.kind;
  if (kind === "daily") {
    f.elements.kind.value = "daily";
    f.elements.time.value = data.at;
  } else if (kind === "weekly" && data.at) {
    f.elements.kind.value = "weekly";
    f.elements.time.value = data.at;
    const days = Array.isArray(data.days) ? data.days : String(data.days || "").split(",");
    for (const box of f.querySelectorAll("input[name=day]")) box.checked = days.includes(box.value);
  } else if (kind === "interval" && !text.includes(" from ")) {
    const period = text.replace(/^every\s+/, "");
    const preset = [...f.elements.every.options].some((o) => o.value === period);
    f.elements.kind.value = "interval";
    f.elements.every.value = preset ? period : "custom";
    f.elements.custom.value = preset ? "" : period;
  } else if (kind === "cron") {
    f.elements.kind.value = "cron";
    f.elements.cron.value = text.replace(/^cron\s+/, "");
  } else if (kind === "manual") {
    f.elements.kind.value = "manual";
  } else if (kind === "after") {
    f.elements.kind.value = "after";
    f.elements.after.value = text.replace(/^after\s+/, "");
  } else {
    f.elements.kind.value = "text";
    f.elements.text.value = text;
  }
  showFields();
}

function showFields() {
  const kind = form().elements.kind.value;
  for (const field of form().querySelectorAll(".field[data-for]")) {
    field.hidden = !field.dataset.for.split(" ").includes(kind);
  }
  const custom = form().elements.every.value === "custom";
  $("s-custom").hidden = !custom;
  form().querySelector("label[for=s-custom]").hidden = !custom;
}

// The schedule's text from the fields (the grammar of rota.parse).
export function scheduleText() {
  const f = form().elements;
  switch (f.kind.value) {
    case "daily":
      return `daily ${f.time.value}`;
    case "weekly": {
      const days = [...form().querySelectorAll("input[name=day]:checked")].map((b) => b.value);
      return `weekly ${days.join(",")} ${f.time.value}`;
    }
    case "interval":
      return `every ${f.every.value === "custom" ? f.custom.value.trim() : f.every.value}`;
    case "cron":
      return `cron ${f.cron.value.trim()}`;
    case "after":
      return `after ${f.after.value.trim()}`;
    case "manual":
      return "manual";
    default:
      return f.text.value.trim();
  }
}

// The input an error is about: the type's main field.
function faultyInput() {
  const kind = form().elements.kind.value;
  return { daily: "s-time", weekly: "s-time", interval: "s-custom", cron: "s-cron",
    after: "s-after", text: "s-text" }[kind] || "s-kind";
}

function showError(text) {
  const error = $("schedule-error");
  error.textContent = text;
  for (const input of form().querySelectorAll("fieldset:first-of-type [aria-invalid]"))
    input.removeAttribute("aria-invalid");
  for (const input of form().querySelectorAll("fieldset:first-of-type input, fieldset:first-of-type select"))
    input.removeAttribute("aria-describedby");
  if (text) {
    let input = $(faultyInput());
    if (form().elements.kind.value === "interval" && form().elements.every.value !== "custom")
      input = $("s-every");
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", "schedule-error");
  }
}

function preview() {
  clearTimeout(timer);
  timer = setTimeout(async () => {
    const text = scheduleText();
    const ask = ++asked;
    try {
      const answer = await api(`api/preview?n=5&schedule=${encodeURIComponent(text)}`,
        { redirect: false });
      if (ask !== asked) return; // an older answer that arrived late
      showError("");
      const list = answer.fire_times.map((t) =>
        Object.assign(document.createElement("li"), { textContent: exact(t, answer.tz) }));
      if (list.length === 0) list.push(Object.assign(document.createElement("li"),
        { textContent: answer.schedule.description + ": no fire times" }));
      $("preview").replaceChildren(...list);
      $("preview-title").textContent =
        `${answer.schedule.description} — next runs (${answer.tz})`;
      $("preview-notes").replaceChildren(...answer.notes.map((n) =>
        Object.assign(document.createElement("li"), { textContent: n })));
    } catch (e) {
      if (ask !== asked) return;
      showError(message(e));
      $("preview").replaceChildren();
      $("preview-notes").replaceChildren();
      $("preview-title").textContent = "Next runs";
    }
  }, 250);
}

let wired = false;

function setUp() {
  showError("");
  if (wired) return;
  wired = true;
  const f = form();
  f.addEventListener("input", (event) => {
    if (event.target.closest("fieldset:first-of-type")) {
      showFields();
      preview();
    }
  });
  f.addEventListener("change", (event) => {
    if (event.target.closest("fieldset:first-of-type")) {
      showFields();
      preview();
    }
  });
  $("schedule-cancel").addEventListener("click", () => $("schedule-dialog").close());
  $("schedule-reset").addEventListener("click", reset);
  f.addEventListener("submit", save);
}

function changes() {
  const f = form().elements;
  const patch = {};
  const text = scheduleText();
  if (text !== job.schedule.text) patch.schedule = text;
  for (const name of POLICIES) {
    const value = f[name].value.trim();
    if (value === policyValue(name, job.settings[name])) continue;
    if (name === "retry") patch.retry = Number(value);
    else if (name === "timeout") patch.timeout = value === "" ? null : value;
    else patch[name] = value;
  }
  return patch;
}

async function save(event) {
  event.preventDefault();
  const patch = changes();
  if (Object.keys(patch).length === 0) {
    $("schedule-dialog").close();
    return;
  }
  try {
    await api(`api/jobs/${encodeURIComponent(job.name)}`, { method: "PATCH", body: patch });
    $("schedule-dialog").close();
    done();
  } catch (e) {
    const field = e instanceof ApiError ? String(e.body.field || "") : "";
    const policy = POLICIES.find((p) => field.startsWith(p) || field.startsWith(p.replace("_", "-")));
    if (policy) {
      $("policy-error").textContent = message(e);
      form().elements[policy].setAttribute("aria-invalid", "true");
      form().elements[policy].focus();
    } else {
      showError(message(e));
      $(faultyInput()).focus();
    }
  }
}

async function reset() {
  const overridden = DIALOG_SETTINGS.filter((s) => s in job.overrides);
  try {
    for (const setting of overridden) {
      job = await api(`api/jobs/${encodeURIComponent(job.name)}/overrides/${setting}`,
        { method: "DELETE" });
    }
    $("schedule-dialog").close();
    done();
  } catch (e) {
    showError(message(e));
  }
}

