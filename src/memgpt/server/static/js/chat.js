// The conversation: user and agent messages, the inner monologue and every function call
// with its result (collapsible), and system events, streamed as the agent steps.

import { api, stream } from "./api.js";
import { attempt, h, say, timeEl } from "./dom.js";

const MEMORY_EDITS = new Set(["core_memory_append", "core_memory_replace"]);
const EVENTS = { heartbeat: "Heartbeat", system_alert: "System alert", login: "Login" };

let app;
const transcript = () => document.getElementById("transcript");
// Streamed pieces share their message's id and type; calls are found again by call id.
let parts = new Map();
let calls = new Map();

export function init(appState) {
  app = appState;
  const form = document.getElementById("chat-form");
  const input = document.getElementById("chat-input");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (text && app.agent) attempt(() => send(text));
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
}

function setBusy(busy) {
  const input = document.getElementById("chat-input");
  const button = document.querySelector("#chat-form button");
  input.disabled = button.disabled = busy || !app.agent;
  transcript().setAttribute("aria-busy", String(busy));
  if (!busy) input.focus();
}

export function clear() {
  parts = new Map();
  calls = new Map();
  transcript().replaceChildren(h("p", { class: "empty" }, "Open or create an agent to start."));
  setBusy(false);
}

export async function load() {
  if (await showListing()) setBusy(false);
}

// The transcript as the listing has it; false if another agent was opened meanwhile. It
// leaves the input alone: an exchange frees it only after its last refresh, or the next
// message would be sent while that refresh still redraws the transcript.
async function showListing() {
  const agentId = app.agent.id;
  const listed = await api(`/v1/agents/${agentId}/messages`, { query: { order: "desc", limit: 200 } });
  if (app.agent?.id !== agentId) return false;
  parts = new Map();
  calls = new Map();
  transcript().replaceChildren();
  for (const message of oldestFirst(listed)) add(message);
  if (!listed.length) transcript().append(h("p", { class: "empty" }, "Say hello."));
  scrollDown();
  return true;
}

// Newest first reverses the messages, but each message's parts (monologue, then call or
// reply) stay in order: reverse by message, not by part.
function oldestFirst(listed) {
  const groups = [];
  for (const part of listed) {
    if (groups.at(-1)?.[0].id === part.id) groups.at(-1).push(part);
    else groups.push([part]);
  }
  return groups.reverse().flat();
}

function scrollDown() {
  const t = transcript();
  t.scrollTop = t.scrollHeight;
}

// A user-role message is a person's words, or an event packed as JSON by the agent loop.
function eventOf(content) {
  if (!content.startsWith("{")) return null;
  try {
    const packet = JSON.parse(content);
    return EVENTS[packet.type] ? packet : null;
  } catch {
    return null;
  }
}

function row(message, kind, ...children) {
  return h("article", { class: `msg ${kind}`, "data-id": message.id }, ...children);
}

function userMessage(message) {
  const event = eventOf(message.content);
  if (!event) return row(message, "user", h("p", { class: "bubble" }, message.content));
  return row(
    message,
    `event ${event.type}`,
    h("p", {}, h("strong", {}, `${EVENTS[event.type]}: `), event.text || ""),
  );
}

function reasoning(message) {
  return row(
    message,
    "thought",
    h("details", {}, h("summary", {}, "Inner monologue"), h("p", { class: "text" }, message.reasoning)),
  );
}

function toolCall(message, waiting = null) {
  const { name, arguments: args, tool_call_id: callId } = message.tool_call;
  let pretty = args;
  try {
    pretty = JSON.stringify(JSON.parse(args), null, 2);
  } catch {
    /* the model's raw text: show it as written */
  }
  const badge = MEMORY_EDITS.has(name) ? h("span", { class: "badge edit" }, "memory edit") : null;
  const result = h("div", { class: "result" }, waiting || h("p", { class: "pending" }, "running…"));
  const el = row(
    message,
    "call",
    h(
      "details",
      waiting ? { open: true } : {},
      h("summary", {}, h("code", {}, `${name}()`), badge),
      h("pre", { class: "args" }, pretty),
      result,
    ),
  );
  calls.set(callId, result);
  return el;
}

// A call waiting for the user's approval: it runs, or fails with the reason given, once
// answered; the buttons go when its result arrives.
function approvalRequest(message) {
  const reason = h("input", { type: "text", "aria-label": "Reason", placeholder: "Reason for a denial (optional)" });
  const answer = (approve) => attempt(() => answerApproval(message.id, approve, reason.value.trim()));
  const waiting = h(
    "form",
    { class: "approval", onsubmit: (e) => e.preventDefault() },
    h("p", { class: "pending" }, "Waiting for your approval."),
    h("button", { type: "button", onclick: () => answer(true) }, "Approve"),
    reason,
    h("button", { type: "button", onclick: () => answer(false) }, "Deny"),
  );
  const el = toolCall(message, waiting);
  el.querySelector("summary").append(h("span", { class: "badge" }, "needs approval"));
  return el;
}

function approvalResponse(message) {
  const said = message.approve ? "approved the call." : `denied the call${message.reason ? `: ${message.reason}` : "."}`;
  return row(message, "event approval", h("p", {}, h("strong", {}, "You "), said));
}

function toolReturn(message) {
  const result = h(
    "div",
    { class: `returned ${message.status}` },
    h("span", { class: "badge" }, message.status === "success" ? "result" : "failed"),
    h("pre", {}, message.tool_return),
  );
  const slot = calls.get(message.tool_call_id);
  if (!slot) return row(message, "call orphan", result);
  slot.replaceChildren(result);
  return null;
}

function assistant(message) {
  return row(message, "agent", h("p", { class: "bubble" }, message.content));
}

const RENDER = {
  user_message: userMessage,
  reasoning_message: reasoning,
  tool_call_message: toolCall,
  approval_request_message: approvalRequest,
  approval_response_message: approvalResponse,
  tool_return_message: toolReturn,
  assistant_message: assistant,
};
const STREAMED = { reasoning_message: "reasoning", assistant_message: "content" };

// Add a message part, or append a streamed piece to the part it continues.
function add(message) {
  const render = RENDER[message.message_type];
  if (!render) return;
  const key = `${message.id}:${message.message_type}`;
  const field = STREAMED[message.message_type];
  const existing = parts.get(key);
  if (existing && field) {
    existing.querySelector(".text, .bubble").textContent += message[field];
    return;
  }
  const el = render(message);
  if (!el) return;
  // One time per message: its parts (monologue, call, reply) happened together.
  if (![...parts.keys()].some((k) => k.startsWith(`${message.id}:`))) el.prepend(timeEl(message.date));
  parts.set(key, el);
  transcript().append(el);
}

function systemNote(text, kind = "event") {
  transcript().append(h("article", { class: `msg ${kind}` }, h("p", {}, text)));
}

async function send(text) {
  const input = document.getElementById("chat-input");
  const agentId = app.agent.id;
  input.value = "";
  setBusy(true);
  transcript().querySelector(".empty")?.remove();
  transcript().append(h("article", { class: "msg user" }, h("p", { class: "bubble" }, text)));
  await exchange(agentId, { messages: [{ role: "user", content: text }], stream_tokens: true });
}

async function answerApproval(requestId, approve, reason) {
  setBusy(true);
  const approval = { type: "approval", approval_request_id: requestId, approve, reason: reason || null };
  await exchange(app.agent.id, { messages: [approval], stream_tokens: true });
}

// Stream one request's steps into the transcript, then show it as the listing has it.
async function exchange(agentId, body) {
  scrollDown();
  say("The agent is thinking…");
  let lastId = null;
  let refreshing = Promise.resolve();
  const notes = []; // shown again after the transcript is reloaded from the listing
  const note = (line, kind) => {
    notes.push([line, kind]);
    systemNote(line, kind);
  };
  try {
    await stream(
      `/v1/agents/${agentId}/messages/stream`,
      body,
      (event) => {
        if (event.message_type === "stop_reason" && event.stop_reason === "requires_approval") {
          note("The agent waits for your approval of its call: approve or deny it above.", "event approval");
        } else if (event.message_type === "stop_reason" && event.stop_reason !== "end_turn") {
          note(`The agent stopped: ${event.stop_reason.replaceAll("_", " ")}.`, "event system_alert");
        } else if (event.message_type === "error_message") {
          note(event.message, "event error");
        } else if (event.message_type === "usage_statistics") {
          note(
            `${event.step_count} step(s), ${event.total_tokens} tokens: ${event.prompt_tokens} prompt ` +
              `(${event.cached_input_tokens ?? 0} cached), ${event.completion_tokens} completion.`,
            "event usage",
          );
        } else {
          add(event);
        }
        // A new message id means a step was committed: show its effect on memory now.
        if (event.id && event.id !== lastId) {
          lastId = event.id;
          refreshing = refreshing.then(() => app.refresh());
        }
        scrollDown();
      },
    );
  } finally {
    await refreshing;
    // The stream leaves out events (heartbeats, memory alerts): the listing has them.
    if (app.agent?.id === agentId) {
      await showListing();
      for (const [line, kind] of notes) systemNote(line, kind);
      await app.refresh();
    }
    setBusy(false);
  }
  say("Ready.");
}

// Messages before the queue's first have left main context for the recursive summary.
export function markEvicted(firstInContextId) {
  const t = transcript();
  t.querySelector(".evicted-mark")?.remove();
  const rows = [...t.querySelectorAll("article[data-id]")];
  const start = firstInContextId ? rows.findIndex((r) => r.dataset.id === firstInContextId) : rows.length;
  for (const [i, r] of rows.entries()) r.classList.toggle("evicted", start > 0 && i < start);
  if (start > 0) {
    const mark = h(
      "p",
      { class: "evicted-mark", role: "note" },
      "Summary: the messages above left main context and were folded into the recursive summary (recall storage keeps them).",
    );
    if (start < rows.length) rows[start].before(mark);
    else t.append(mark);
  }
}
