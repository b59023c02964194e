// Nodes: each engine process, its heartbeat's age and what it runs; refreshed on events and
// every 5 s (heartbeats are not events).
import { api, onEvent, throttle } from "./api.js";
import { duration, h, notice, when } from "./format.js";

export async function start() {
  const box = document.getElementById("nodes");
  const refresh = throttle(async () => {
    try {
      render(box, await api("api/nodes"));
      notice("");
    } catch (e) {
      notice(`Could not load the nodes: ${e.message}`);
    }
  }, 1000);
  refresh();
  onEvent((event) => {
    if (event.kind.startsWith("run.") || event.kind === "resync") refresh();
  });
  setInterval(refresh, 5000);
}

function render(box, nodes) {
  box.setAttribute("aria-busy", "false");
  if (nodes.length === 0) {
    box.replaceChildren(h("p", { class: "empty" }, "No node has run the engine yet."));
    return;
  }
  const rows = nodes.map((node) =>
    h("tr", { class: node.alive ? "" : "dim" },
      h("th", { scope: "row", "data-label": "Node" }, h("code", {}, node.id)),
      h("td", { "data-label": "Host" }, `${node.host} (pid ${node.pid})`),
      h("td", { "data-label": "State" },
        node.alive ? h("span", { class: "badge ok" }, "alive")
          : h("span", { class: "badge quiet" }, node.stopped_at ? "stopped" : "lost")),
      h("td", { "data-label": "Heartbeat" }, `${duration(node.heartbeat_age_seconds)} ago`),
      h("td", { "data-label": "Started" }, when(node.started_at)),
      h("td", { "data-label": "Running" },
        node.running.length === 0 ? h("span", { class: "muted" }, "nothing")
          : node.running.map((run) =>
            h("a", { href: `runs/${run.id}`, class: "chip" }, `${run.job} #${run.id}`))),
    ),
  );
  box.replaceChildren(
    h("table", { class: "table" },
      h("caption", { class: "sr-only" }, "Nodes"),
      h("thead", {}, h("tr", {}, ["Node", "Host", "State", "Heartbeat", "Started", "Running"]
        .map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows)),
  );
}
