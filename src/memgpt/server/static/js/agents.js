// The agents pane: list, create, delete, open.

import { api } from "./api.js";
import { attempt, h, say } from "./dom.js";

let app;
let agents = [];

export function init(appState) {
  app = appState;
  document.getElementById("create-agent").addEventListener("submit", (e) => {
    e.preventDefault();
    attempt(() => create(e.target));
  });
}

async function create(form) {
  const f = new FormData(form);
  const blocks = ["persona", "human"]
    .filter((label) => f.get(label).trim())
    .map((label) => ({ label, value: f.get(label).trim() }));
  const body = { name: f.get("name").trim() || undefined, model: f.get("model").trim() || undefined };
  if (blocks.length) body.memory_blocks = blocks;
  say("Creating the agent…");
  const agent = await api("/v1/agents/", { method: "POST", body });
  form.reset();
  document.getElementById("create-details").open = false;
  await load();
  await app.open(agent);
}

async function remove(agent) {
  if (!confirm(`Delete agent ${agent.name}? Its memory and messages are deleted too.`)) return;
  await api(`/v1/agents/${agent.id}`, { method: "DELETE" });
  app.closed(agent.id);
  await load();
  say(`Deleted ${agent.name}.`);
}

export async function load() {
  agents = await api("/v1/agents/");
  const list = document.getElementById("agent-list");
  list.replaceChildren(
    ...agents.map((agent) =>
      h(
        "li",
        { "data-id": agent.id },
        h(
          "button",
          { type: "button", class: "open", onclick: () => attempt(() => app.open(agent)) },
          h("span", { class: "name" }, agent.name),
          h("span", { class: "model" }, agent.model),
        ),
        h(
          "button",
          {
            type: "button",
            class: "delete",
            "aria-label": `Delete ${agent.name}`,
            title: `Delete ${agent.name}`,
            onclick: () => attempt(() => remove(agent)),
          },
          "✕",
        ),
      ),
    ),
  );
  if (!agents.length) list.append(h("li", { class: "empty" }, "No agents yet."));
  if (app.agent) highlight(app.agent.id);
  return agents;
}

export function highlight(agentId) {
  for (const item of document.querySelectorAll("#agent-list li")) {
    const open = item.querySelector(".open");
    if (!open) continue;
    if (item.dataset.id === agentId) open.setAttribute("aria-current", "true");
    else open.removeAttribute("aria-current");
  }
}
