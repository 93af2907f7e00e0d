// External context: recall storage (every message, by text and date) and archival storage
// (hybrid search with sources and scores), then the sources that feed archival storage,
// and the runs that processed the agent's messages.

import { api } from "./api.js";
import { attempt, h, timeEl } from "./dom.js";
import * as runs from "./runs.js";
import * as sources from "./sources.js";

let app;

export function init(appState) {
  app = appState;
  sources.init(appState);
  runs.init(appState);
  document.getElementById("recall-form").addEventListener("submit", (e) => {
    e.preventDefault();
    attempt(() => searchRecall(0));
  });
  document.getElementById("archival-form").addEventListener("submit", (e) => {
    e.preventDefault();
    attempt(() => searchArchival(0));
  });
}

export const refreshRuns = () => attempt(runs.refresh);

export function reset() {
  document.getElementById("recall-results").replaceChildren();
  document.getElementById("archival-results").replaceChildren();
  attempt(sources.refresh);
  attempt(runs.refresh);
}

// Previous/next buttons under a page of results.
function pager(result, go) {
  const pages = Math.max(1, Math.ceil(result.total / result.page_size));
  return h(
    "nav",
    { class: "pager", "aria-label": "Result pages" },
    h("button", { type: "button", disabled: result.page === 0, onclick: () => attempt(() => go(result.page - 1)) }, "Previous"),
    // `more`: a recall text search stopped counting: there are at least this many.
    h("span", {}, `${result.more ? "at least " : ""}${result.total} result${result.total === 1 ? "" : "s"} · page ${result.page + 1} of ${pages}`),
    h("button", { type: "button", disabled: result.page + 1 >= pages, onclick: () => attempt(() => go(result.page + 1)) }, "Next"),
  );
}

async function searchRecall(page) {
  const result = await api(`/v1/agents/${app.agent.id}/recall`, {
    query: {
      query: document.getElementById("recall-query").value.trim(),
      start_date: document.getElementById("recall-from").value,
      end_date: document.getElementById("recall-to").value,
      page,
    },
  });
  document.getElementById("recall-results").replaceChildren(
    h(
      "ol",
      {},
      ...result.results.map((m) =>
        h(
          "li",
          { class: `hit ${m.from}` },
          h("p", { class: "meta" }, h("span", { class: "badge" }, m.from), " ", timeEl(m.date), m.in_context ? "" : h("span", { class: "badge muted" }, "evicted")),
          h("p", {}, m.text),
        ),
      ),
    ),
    pager(result, searchRecall),
  );
}

// Where a passage came from: the agent itself, or a source's file (and page).
function origin(x) {
  if (!x.source) return "saved by the agent";
  const file = x.file ? ` · ${x.file.split(/[\\/]/).pop()}` : "";
  return `${x.source}${file}${x.page !== null ? ` p.${x.page}` : ""}`;
}

const score = (value, digits) => (value === null ? "—" : value.toFixed(digits));

async function searchArchival(page) {
  const result = await api(`/v1/agents/${app.agent.id}/archival-memory/hybrid-search`, {
    query: {
      query: document.getElementById("archival-query").value.trim(),
      source_id: document.getElementById("archival-source").value,
      page,
    },
  });
  document.getElementById("archival-results").replaceChildren(
    h(
      "ol",
      {},
      ...result.results.map((x) =>
        h(
          "li",
          { class: "hit" },
          h(
            "p",
            { class: "meta" },
            h("span", { class: "badge" }, origin(x)),
            " ",
            timeEl(x.created_at),
          ),
          h("p", {}, x.text),
          h(
            "p",
            { class: "scores" },
            `score ${score(x.score, 4)} · cosine ${score(x.similarity, 3)} · BM25 ${score(x.bm25, 2)}`,
          ),
        ),
      ),
    ),
    pager(result, searchArchival),
  );
}
