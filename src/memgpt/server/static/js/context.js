// Main context, live: the window split by section in tokens, the working-context blocks
// (editable, with character counters, and the other agents sharing each) and each
// block's edit history as diffs, naming the agent behind each edit.

import { api } from "./api.js";
import { attempt, h, say, timeEl } from "./dom.js";

// The order the compiler lays main context out in, then what is left.
const SECTIONS = [
  ["num_tokens_system", "System instructions", "system"],
  ["num_tokens_functions_definitions", "Function definitions", "functions"],
  ["num_tokens_core_memory", "Working context", "working"],
  ["num_tokens_open_files", "Open files", "files"],
  ["num_tokens_summary_memory", "Summary", "summary"],
  ["num_tokens_messages", "FIFO queue", "queue"],
  ["num_tokens_external_memory_summary", "Memory statistics", "stats"],
];

let app;
const editing = new Set(); // blocks with unsaved edits are not overwritten by a refresh

export function init(appState) {
  app = appState;
}

export function clear() {
  const bar = document.getElementById("context-bar");
  bar.replaceChildren();
  bar.setAttribute("aria-label", "No agent open");
  document.getElementById("context-legend").replaceChildren();
  document.getElementById("blocks").replaceChildren();
  document.getElementById("summary").textContent = "No summary yet.";
  editing.clear();
}

export async function refresh() {
  if (!app.agent) return null;
  const agentId = app.agent.id;
  const [overview, blocks, shared] = await Promise.all([
    api(`/v1/agents/${agentId}/context`),
    api(`/v1/agents/${agentId}/core-memory/blocks`),
    api(`/v1/agents/${agentId}/core-memory/shared`),
  ]);
  if (app.agent?.id !== agentId) return null;
  drawBar(overview);
  drawBlocks(blocks, shared);
  document.getElementById("summary").textContent = overview.summary_memory || "No summary yet.";
  return overview;
}

function drawBar(o) {
  const window = o.context_window_size_max;
  const used = o.context_window_size_current;
  const free = Math.max(0, window - o.reserved_for_reply - used);
  const segments = [
    ...SECTIONS.map(([field, label, kind]) => [label, kind, o[field]]),
    ["Free", "free", free],
    ["Reserved for the reply", "reserved", o.reserved_for_reply],
  ];
  const pct = (n) => `${((100 * n) / window).toFixed(2)}%`;
  const bar = document.getElementById("context-bar");
  bar.replaceChildren(
    ...segments
      .filter(([, , n]) => n > 0)
      .map(([label, kind, n]) => h("span", { class: `seg ${kind}`, style: `width:${pct(n)}`, title: `${label}: ${n} tokens` })),
    h("span", {
      class: "warn-line",
      style: `left:${pct(o.memory_warning_tokens)}`,
      title: `Memory warning at ${o.memory_warning_tokens} tokens`,
    }),
  );
  bar.setAttribute(
    "aria-label",
    `${used} of ${window} tokens in use (${Math.round((100 * used) / window)}%); ${free} free`,
  );
  document.getElementById("context-legend").replaceChildren(
    ...segments.map(([label, kind, n]) =>
      h("li", {}, h("span", { class: `swatch ${kind}`, "aria-hidden": "true" }), `${label} `, h("data", { value: n }, n.toLocaleString())),
    ),
    h(
      "li",
      { class: "counts" },
      `${o.num_messages} messages in the queue · ${o.num_recall_memory} in recall · ${o.num_archival_memory} archival passages`,
    ),
  );
}

function drawBlocks(blocks, shared) {
  const container = document.getElementById("blocks");
  const open = new Set([...container.querySelectorAll("details.history[open]")].map((d) => d.dataset.label));
  const kept = new Map([...container.querySelectorAll(".block")].map((b) => [b.dataset.label, b]));
  container.replaceChildren(
    ...blocks.map((block) =>
      editing.has(block.label) ? kept.get(block.label) : blockEditor(block, open.has(block.label), shared[block.id] || []),
    ),
  );
}

function blockEditor(block, historyOpen, sharers) {
  const id = `block-${block.label}`;
  const counter = h("span", { class: "counter", id: `${id}-count`, "aria-live": "polite" });
  const text = h("textarea", { id, rows: 4, "aria-describedby": `${id}-count` });
  text.value = block.value;
  const save = h("button", { type: "submit", disabled: true }, "Save");
  const count = () => {
    const n = text.value.length;
    counter.textContent = `${n} / ${block.limit} characters`;
    counter.classList.toggle("over", n > block.limit);
    save.disabled = text.value === block.value || n > block.limit;
    if (text.value === block.value) editing.delete(block.label);
    else editing.add(block.label);
  };
  text.addEventListener("input", count);
  count();
  const history = h(
    "details",
    { class: "history", "data-label": block.label, open: historyOpen },
    h("summary", {}, "Edit history"),
    h("div", { class: "edits" }),
  );
  history.addEventListener("toggle", () => history.open && attempt(() => loadHistory(block.label, history)));
  const form = h(
    "form",
    {
      class: "block",
      "data-label": block.label,
      onsubmit: (e) => {
        e.preventDefault();
        attempt(() => saveBlock(block.label, text.value));
      },
    },
    h("label", { for: id }, block.label),
    sharers.length ? h("p", { class: "shared" }, `Shared with ${sharers.map((a) => a.name).join(", ")}`) : false,
    text,
    h("div", { class: "row" }, counter, save),
    history,
  );
  return form;
}

async function saveBlock(label, value) {
  await api(`/v1/agents/${app.agent.id}/core-memory/blocks/${encodeURIComponent(label)}`, {
    method: "PATCH",
    body: { value },
  });
  editing.delete(label);
  say(`Saved ${label}.`);
  await app.refresh();
}

async function loadHistory(label, details) {
  const edits = await api(`/v1/agents/${app.agent.id}/core-memory/blocks/${encodeURIComponent(label)}/history`);
  const list = details.querySelector(".edits");
  if (!edits.length) {
    list.replaceChildren(h("p", { class: "empty" }, "Not edited since the agent was created."));
    return;
  }
  list.replaceChildren(
    h(
      "ol",
      {},
      ...edits.map((edit) =>
        h(
          "li",
          { class: "edit" },
          h(
            "p",
            { class: "who" },
            h("span", { class: `badge ${edit.actor}` }, edit.actor),
            edit.agent_name && edit.agent_id !== app.agent.id ? ` (${edit.agent_name}) ` : " ",
            timeEl(edit.created_at),
          ),
          h("p", { class: "diff" }, ...edit.diff.map(([op, text]) => (op === "=" ? text : h(op === "+" ? "ins" : "del", {}, text)))),
        ),
      ),
    ),
  );
}
