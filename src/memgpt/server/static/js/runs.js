// Runs: the open agent's newest messages as the server processed them (each a run of
// steps), with how each ended; one still processing can be cancelled between steps.

import { api } from "./api.js";
import { attempt, h, say, timeEl } from "./dom.js";

const SHOWN = 10;
let app;

export function init(appState) {
  app = appState;
  document.getElementById("runs-refresh").addEventListener("click", () => attempt(refresh));
}

async function cancel(run) {
  const answer = await api(`/v1/agents/${app.agent.id}/messages/cancel`, { method: "POST", body: { run_ids: [run.id] } });
  say(answer[run.id] === "cancelled" ? "Cancelled: the run stops after its current step." : `The run had already ${answer[run.id]}.`);
  await refresh();
}

export async function refresh() {
  if (!app.agent) return;
  const runs = await api(`/v1/runs/?agent_id=${encodeURIComponent(app.agent.id)}&limit=${SHOWN}`);
  const active = (run) => run.status === "created" || run.status === "running";
  const list = document.getElementById("run-list");
  list.replaceChildren(
    ...runs.map((run) =>
      h(
        "li",
        {},
        timeEl(run.created_at),
        h("span", { class: `badge run-${run.status}` }, run.status),
        run.stop_reason && run.stop_reason !== run.status ? h("span", {}, run.stop_reason.replaceAll("_", " ")) : "",
        run.background ? h("span", { class: "badge" }, "background") : "",
        active(run) ? h("button", { type: "button", onclick: () => attempt(() => cancel(run)) }, "Cancel run") : "",
      ),
    ),
  );
  if (!runs.length) list.append(h("li", { class: "empty" }, "No runs yet: each message sent is one."));
}
