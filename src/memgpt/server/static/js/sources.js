// Document sources: create one, upload files into it with progress, attach it to the agent
// so archival_memory_search covers it.

import { api, upload } from "./api.js";
import { attempt, h, say } from "./dom.js";

const POLL_MS = 400;
let app;

export function init(appState) {
  app = appState;
  document.getElementById("source-form").addEventListener("submit", (e) => {
    e.preventDefault();
    attempt(() => create(e.target));
  });
  document.getElementById("upload-form").addEventListener("submit", (e) => {
    e.preventDefault();
    attempt(() => send(e.target));
  });
}

async function create(form) {
  const input = document.getElementById("source-name");
  const source = await api("/v1/sources/", { method: "POST", body: { name: input.value.trim() } });
  form.reset();
  say(`Created source ${source.name}.`);
  await refresh();
  document.getElementById("upload-source").value = source.id;
}

async function toggle(source, attached) {
  const verb = attached ? "detach" : "attach";
  await api(`/v1/agents/${app.agent.id}/sources/${verb}/${source.id}`, { method: "PATCH" });
  say(`${attached ? "Detached" : "Attached"} ${source.name}.`);
  await refresh();
}

// The agent's tools from MCP servers (attached through the API or an SDK), by server.
async function listMcpTools() {
  const tools = await api(`/v1/agents/${app.agent.id}/tools`);
  const mcp = tools.filter((t) => t.tool_type === "external_mcp");
  const list = document.getElementById("mcp-tool-list");
  list.replaceChildren(
    ...mcp.map((t) => h("li", {}, h("span", {}, t.name, h("span", { class: "badge" }, t.metadata.mcp.server_name)))),
  );
  if (!mcp.length) list.append(h("li", { class: "empty" }, "No MCP tools: attach them with the API or an SDK."));
}

export async function refresh() {
  if (!app.agent) return;
  await listMcpTools();
  const [all, mine] = await Promise.all([api("/v1/sources/"), api(`/v1/agents/${app.agent.id}/sources`)]);
  const attached = new Set(mine.map((s) => s.id));
  const list = document.getElementById("source-list");
  list.replaceChildren(
    ...all.map((source) =>
      h(
        "li",
        {},
        h("span", {}, source.name, attached.has(source.id) ? h("span", { class: "badge edit" }, "attached") : ""),
        h(
          "button",
          { type: "button", onclick: () => attempt(() => toggle(source, attached.has(source.id))) },
          attached.has(source.id) ? `Detach ${source.name}` : `Attach ${source.name}`,
        ),
      ),
    ),
  );
  if (!all.length) list.append(h("li", { class: "empty" }, "No sources yet: create one, then upload files into it."));
  const option = (s) => h("option", { value: s.id }, s.name);
  const into = document.getElementById("upload-source");
  const chosen = into.value;
  into.replaceChildren(...all.map(option));
  if (all.some((s) => s.id === chosen)) into.value = chosen;
  const filter = document.getElementById("archival-source");
  const kept = filter.value;
  filter.replaceChildren(h("option", { value: "" }, "all"), ...mine.map(option));
  if (attached.has(kept)) filter.value = kept;
}

// Upload progress comes from the browser; loading (parsing, embedding) from polling the
// file's record, which the server updates as the pipeline runs.
async function send(form) {
  const sourceId = document.getElementById("upload-source").value;
  const file = document.getElementById("upload-file").files[0];
  const bar = document.getElementById("upload-progress");
  const status = document.getElementById("upload-status");
  bar.hidden = false;
  bar.value = 0;
  status.textContent = `Uploading ${file.name}…`;
  const data = new FormData();
  data.append("file", file);
  let record = await upload(`/v1/sources/${sourceId}/upload`, data, (fraction) => {
    bar.value = fraction;
  });
  bar.removeAttribute("value"); // indeterminate: the pipeline reports chunks, not a fraction
  while (!["completed", "error"].includes(record.processing_status)) {
    status.textContent = `${file.name}: ${record.processing_status}, ${record.chunks_embedded} chunks embedded`;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    record = await api(`/v1/sources/${sourceId}/files/${record.id}`);
  }
  bar.value = 1;
  form.reset();
  document.getElementById("upload-source").value = sourceId;
  if (record.processing_status === "error") {
    status.textContent = `${file.name} failed: ${record.error_message}`;
    status.classList.add("error");
    return;
  }
  status.classList.remove("error");
  status.textContent = `${file.name}: loaded, ${record.total_chunks} passages.`;
  await app.refresh();
}
