// Entry point: wires the panes together and holds the one piece of shared state, the
// open agent. Modules get `app` instead of importing each other, so none is circular.

import { ApiError, apiKey } from "./api.js";
import * as agents from "./agents.js";
import * as chat from "./chat.js";
import * as context from "./context.js";
import { attempt, say } from "./dom.js";
import * as external from "./external.js";

const app = {
  agent: null,

  async open(agent) {
    app.agent = agent;
    document.getElementById("agent-title").textContent = `${agent.name} · ${agent.model}`;
    history.replaceState(null, "", `#${agent.id}`);
    agents.highlight(agent.id);
    external.reset();
    showPane("chat-pane");
    await Promise.all([chat.load(), app.refresh()]);
    say(`Opened ${agent.name}.`);
  },

  closed(agentId) {
    if (app.agent?.id !== agentId) return;
    app.agent = null;
    document.getElementById("agent-title").textContent = "";
    history.replaceState(null, "", location.pathname);
    chat.clear();
    context.clear();
  },

  // After every step: the main context and blocks, then the transcript's evicted mark.
  async refresh() {
    const overview = await context.refresh();
    if (overview) chat.markEvicted(overview.first_in_context_message_id);
    external.refreshRuns();
  },
};

function showPane(id) {
  for (const pane of document.querySelectorAll(".pane")) pane.classList.toggle("active", pane.id === id);
  for (const button of document.querySelectorAll(".switcher button")) {
    if (button.dataset.pane === id) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
}

function setUpSwitcher() {
  for (const button of document.querySelectorAll(".switcher button")) {
    button.addEventListener("click", () => showPane(button.dataset.pane));
  }
}

// Tabs as the ARIA pattern has them: arrows move between tabs, Tab moves into the panel.
function setUpTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const select = (tab) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      document.getElementById(t.getAttribute("aria-controls")).hidden = !on;
    }
    tab.focus();
  };
  for (const [i, tab] of tabs.entries()) {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (e) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
      if (step) select(tabs[(i + step + tabs.length) % tabs.length]);
    });
  }
}

function askForKey() {
  const dialog = document.getElementById("key-dialog");
  const input = document.getElementById("key-input");
  input.value = apiKey.get();
  dialog.showModal();
  dialog.onclose = async () => {
    if (dialog.returnValue === "save") apiKey.set(input.value.trim());
    if (dialog.returnValue === "clear") apiKey.set("");
    if (dialog.returnValue !== "cancel") await start();
  };
}

async function start() {
  try {
    const list = await agents.load();
    const wanted = list.find((a) => a.id === location.hash.slice(1));
    if (wanted) await app.open(wanted);
    else say(list.length ? "Choose an agent." : "Create an agent to begin.");
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      say(error.message, true);
      askForKey();
    } else say(error.message, true);
  }
}

setUpSwitcher();
setUpTabs();
document.getElementById("key-button").addEventListener("click", askForKey);
// A link to #<agent id> opens that agent, in this page as in a new one.
window.addEventListener("hashchange", () => attempt(start));
agents.init(app);
chat.init(app);
context.init(app);
external.init(app);
attempt(start);
