// The runs page (`/`): every flow's runs newest first, with filters kept in the URL query,
// paging by cursor, two runs picked for a comparison, and polling while a listed run runs.

import { getJSON, poll } from "../api.js";
import {
  badge, clear, dataTable, errorBox, formatDuration, formatParams, h, loading, mono, navigate, setTitle, timeAgo,
} from "../ui.js";

const STATUSES = ["running", "succeeded", "failed", "crashed", "cancelled"];
const FILTERS = ["flow", "status", "tag", "since", "until"];
const PAGE = 50;
const LIVE_MS = 2000;
// with no listed run running, still look now and then: a run started elsewhere shows up
const IDLE_MS = 10000;

export async function render(root, { query }) {
  setTitle("Runs");
  root.append(h("h1", null, "Runs"));
  return runsList(root, { query, flow: null });
}

// The filterable, pageable runs table drawn into `root` (with `flow` fixed on a flow's page); returns stop().
export async function runsList(root, { query, flow }) {
  const state = { filters: readFilters(query, flow), rows: [], next: null, picked: [] };
  const filterBar = h("form", { class: "filters", onsubmit: (e) => e.preventDefault() });
  const summary = h("div", { class: "facts" });
  const { frame, body } = dataTable(
    ["", "status", "flow", "run", "started", "duration", "user", "tags", "parameters"],
    { testid: "runs-table" });
  const more = h("div", { class: "more" });
  const message = h("div");
  root.append(filterBar, summary, message, frame, more);

  let stopLive = null;
  let liveMs = null;
  let left = false;
  let loadedFlows = [];
  // poll every LIVE_MS while a listed run runs, else every IDLE_MS
  const setLive = (on) => {
    const ms = on ? LIVE_MS : IDLE_MS;
    // an answer landing after the page was left must not start polling again
    if (left || ms === liveMs) return;
    if (stopLive) stopLive();
    liveMs = ms;
    stopLive = poll(refresh, ms);
  };

  const params = (cursor, limit) => ({ ...state.filters, cursor, limit: limit || PAGE });

  async function load() {
    clear(message);
    clear(body);
    body.append(h("tr", null, h("td", { colspan: 9 }, loading("runs"))));
    try {
      const page = await getJSON("/api/runs", params(null));
      state.rows = page.runs;
      state.next = page.next;
      loadedFlows = page.flows || loadedFlows;
      if (!filterBar.firstChild) drawFilters(page);
      else countStatuses(page);
      drawPage(page);
    } catch (err) {
      clear(body);
      message.append(errorBox(err));
      if (!filterBar.firstChild) drawFilters(null);
    }
  }

  // re-read what is shown (as many rows as now listed) so running runs move on
  async function refresh() {
    const shown = state.rows.length;
    const page = await getJSON("/api/runs", params(null, Math.min(500, Math.max(PAGE, shown))));
    if (shown <= 500) {
      state.rows = page.runs;
      state.next = page.next;
    } else {
      // more rows than one answer holds: renew the first 500, keep the rest and their cursor
      const renewed = new Set(page.runs.map((r) => r.pathspec));
      state.rows = page.runs.concat(state.rows.slice(page.runs.length).filter((r) => !renewed.has(r.pathspec)));
    }
    drawPage(page);
  }

  async function loadMore(button) {
    button.disabled = true;
    try {
      const page = await getJSON("/api/runs", params(state.next));
      state.rows = state.rows.concat(page.runs);
      state.next = page.next;
      drawPage(page);
    } catch (err) {
      clear(message).append(errorBox(err));
      button.disabled = false;
    }
  }

  function drawFilters(page) {
    clear(filterBar);
    const f = state.filters;
    if (!flow) {
      const names = new Set([...(loadedFlows || []), ...(f.flow ? [f.flow] : [])]);
      filterBar.append(field("flow", select("flow", ["", ...[...names].sort()], f.flow, "all flows")));
    }
    const counts = page && page.statuses ? page.statuses : {};
    filterBar.append(field("status", select("status", ["", ...STATUSES], f.status, "any status", counts)));
    filterBar.append(field("tag", h("input", { name: "tag", value: f.tag || "", placeholder: "tag", size: 14 })));
    filterBar.append(field("since (UTC)", h("input", { name: "since", value: f.since || "", placeholder: "YYYY-MM-DD", size: 11 })));
    filterBar.append(field("until (UTC)", h("input", { name: "until", value: f.until || "", placeholder: "YYYY-MM-DD", size: 11 })));
    const compare = h("button", { type: "button", class: "primary", testid: "compare-button", disabled: state.picked.length !== 2,
      title: "tick two runs to compare them", onclick: openCompare }, "Compare");
    filterBar.append(compare);
    for (const el of filterBar.querySelectorAll("select, input")) {
      el.addEventListener("change", () => applyFilters());
    }
  }

  // the bar is drawn once (redrawing it would take the focus from the field just edited);
  // later answers only renew the status counts
  function countStatuses(page) {
    for (const option of filterBar.querySelectorAll("select[name=status] option")) {
      const n = page.statuses ? page.statuses[option.value] : undefined;
      if (option.value) option.textContent = n !== undefined ? `${option.value} (${n})` : option.value;
    }
  }

  function applyFilters() {
    for (const name of FILTERS) {
      const el = filterBar.querySelector(`[name=${name}]`);
      if (el) state.filters[name] = el.value.trim();
    }
    const q = new URLSearchParams();
    for (const name of FILTERS) {
      if (name === "flow" && flow) continue;
      if (state.filters[name]) q.set(name, state.filters[name]);
    }
    const text = q.toString();
    history.replaceState(null, "", location.pathname + (text ? "?" + text : ""));
    setLive(false);
    load();
  }

  function drawPage(page) {
    clear(summary).append(
      h("span", null, h("b", { testid: "runs-total" }, String(page.total)), page.total === 1 ? " run" : " runs"),
      ...Object.entries(page.statuses || {}).map(([s, n]) => h("span", null, badge(s), " ", String(n))));
    clear(body);
    if (!state.rows.length) {
      body.append(h("tr", null, h("td", { colspan: 9, class: "muted" }, "No runs match these filters.")));
    }
    for (const run of state.rows) body.append(row(run));
    clear(more);
    if (state.next) {
      const button = h("button", { type: "button", testid: "load-more" }, "Load more");
      button.addEventListener("click", () => loadMore(button));
      more.append(button, h("span", { class: "muted" }, `${state.rows.length} of ${page.total} shown`));
    }
    const running = state.rows.some((r) => r.status === "running");
    if (running) more.append(h("span", { class: "live" }, "live"));
    setLive(running);
  }

  function row(run) {
    const checked = state.picked.includes(run.pathspec);
    const box = h("input", { type: "checkbox", name: "pick", title: "pick for a comparison", checked });
    box.addEventListener("change", () => {
      state.picked = state.picked.filter((p) => p !== run.pathspec);
      if (box.checked) state.picked.push(run.pathspec);
      if (state.picked.length > 2) state.picked.shift();
      for (const other of body.querySelectorAll("tr[data-run] input[name=pick]")) {
        other.checked = state.picked.includes(other.closest("tr").dataset.run);
      }
      const button = filterBar.querySelector("[data-testid=compare-button]");
      if (button) button.disabled = state.picked.length !== 2;
    });
    return h("tr", { "data-run": run.pathspec },
      h("td", null, box),
      h("td", { class: "status" }, badge(run.status)),
      h("td", null, h("a", { href: "/" + encodeURIComponent(run.flow) }, run.flow)),
      h("td", null, mono(run.run_id, run.url),
        run.origin_run_id ? h("span", { class: "muted", title: `resumed from ${run.origin_run_id}` }, " ↻") : null),
      h("td", { class: "num" }, timeAgo(run.created_at)),
      h("td", { class: "num" }, formatDuration(run.duration)),
      h("td", null, run.user || ""),
      h("td", null, (run.tags || []).map((t) => h("span", { class: "tag" }, t))),
      h("td", { class: "params", title: formatParams(run.parameters) }, formatParams(run.parameters)));
  }

  function openCompare() {
    if (state.picked.length !== 2) return;
    const [a, b] = state.picked;
    const arg = (pathspec) => encodeURIComponent(pathspec).replace(/%2F/g, "/");
    navigate(`/-/compare?a=${arg(a)}&b=${arg(b)}`);
  }

  await load();
  return () => {
    left = true;
    if (stopLive) stopLive();
    stopLive = null;
  };
}

function readFilters(query, flow) {
  const f = {};
  for (const name of FILTERS) f[name] = query.get(name) || "";
  if (flow) f.flow = flow;
  return f;
}

function field(label, control) {
  return h("label", null, label, control);
}

function select(name, options, value, anyLabel, counts) {
  return h("select", { name },
    options.map((o) => h("option", { value: o, selected: o === (value || "") },
      o === "" ? anyLabel : counts && counts[o] !== undefined ? `${o} (${counts[o]})` : o)));
}
