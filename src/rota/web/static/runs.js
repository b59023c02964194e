// What the activity and run pages share: a run's progress bar and its Cancel and Retry buttons.
import { api, isAdmin } from "./api.js";
import { h, notice, progressOf, retryable, say } from "./format.js";
import { message } from "./errors.js";

export function progressBar(run) {
  const share = progressOf(run);
  const label = `Progress of ${run.job} #${run.id}`;
  return h("div", { class: "progress" },
    share === null
      ? h("progress", { "aria-label": label })
      : h("progress", { max: "100", value: String(Math.round(share * 100)), "aria-label": label },
        `${Math.round(share * 100)}%`),
    h("span", { class: "small" },
      share === null ? "" : `${Math.round(share * 100)}% `,
      run.progress_note ? h("span", { class: "muted note" }, run.progress_note) : null));
}

export function runActions(run, after) {
  if (!isAdmin()) return [];
  const buttons = [];
  if ((run.status === "running" || run.status === "queued") && !run.cancel_requested) {
    buttons.push(h("button", { type: "button", class: "danger", id: `cancel-${run.id}`,
      "aria-label": `Cancel ${run.job} #${run.id}`, onclick: async (event) => {
        event.currentTarget.disabled = true;
        try {
          await api(`api/runs/${run.id}/cancel`, { method: "POST" });
        } catch (e) {
          notice(message(e));
        }
        after();
      } }, "Cancel"));
  }
  if (run.cancel_requested && run.status === "running")
    buttons.push(h("span", { class: "muted small" }, "cancelling…"));
  if (retryable(run.status)) {
    buttons.push(h("button", { type: "button", id: `retry-${run.id}`,
      "aria-label": `Retry ${run.job} #${run.id}`, onclick: async (event) => {
        event.currentTarget.disabled = true;
        try {
          const created = await api(`api/runs/${run.id}/retry`, { method: "POST" });
          say(`Retry queued: run ${created.id}.`);
        } catch (e) {
          notice(message(e));
        }
        after();
      } }, "Retry"));
  }
  return buttons;
}
