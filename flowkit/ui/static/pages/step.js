// The step page (`/F/RUN/STEP`): its phase, duration stats, code, tasks (filtered by status,
// paged with "Load more"), and the step's duration over past runs; polls while the step runs.

import { apiPath, getJSON, poll } from "../api.js";
import {
  badge, breadcrumbs, clear, dataTable, errorBox, formatDuration, formatUtc, h, loading, mono, navigate, pageUrl, s,
  section, setTitle, statusColor, timeAgo,
} from "../ui.js";

const PAGE = 200;
const LIVE_MS = 1000;
const TASK_STATUSES = ["running", "succeeded", "caught", "failed", "killed", "cloned"];

export async function render(root, { parts, query }) {
  const [flow, runId, stepName] = parts;
  setTitle(`${stepName} · ${flow}/${runId}`);
  const status = query.get("status") || "";
  const head = h("div");
  const tasksBox = h("div");
  const historyBox = h("div", { testid: "step-history", class: "step-chart" }, loading("history"));
  root.append(breadcrumbs(parts), head, loading("step"));
  const state = { rows: [], next: null, count: 0 };

  const fetchStep = (cursor, limit) =>
    getJSON(apiPath("runs", flow, runId, stepName), { status: status || null, cursor, limit: limit || PAGE });

  let step;
  try {
    step = await fetchStep(null);
  } catch (err) {
    root.lastChild.replaceWith(errorBox(err));
    return undefined;
  }
  root.lastChild.remove();
  root.append(tasksBox, section("Duration over past runs", historyBox));
  state.rows = step.tasks;
  state.next = step.next;
  drawHead(head, step);
  drawTasks();
  drawHistory(historyBox, flow, runId, stepName);

  function drawTasks() {
    clear(tasksBox);
    const filter = h("select", { name: "status", title: "show only tasks in this state" },
      h("option", { value: "" }, `every status (${step.total ?? step.count})`),
      TASK_STATUSES.map((name) => h("option", { value: name, selected: name === status },
        `${name}${step.counts && step.counts[name] !== undefined ? ` (${step.counts[name]})` : ""}`)));
    filter.addEventListener("change", () => {
      const q = filter.value ? `?status=${encodeURIComponent(filter.value)}` : "";
      navigate(pageUrl(flow, runId, stepName) + q, { replace: true });
    });
    const { frame, body } = dataTable(["status", "task", "index", "started", "duration", "attempt", "failure"],
      { testid: "tasks-table" });
    for (const task of state.rows) body.append(taskRow(task));
    if (!state.rows.length) {
      body.append(h("tr", null, h("td", { colspan: 7, class: "muted" }, status ? `no ${status} task` : "no task yet")));
    }
    const more = h("div", { class: "more" },
      h("span", { class: "muted" }, `${state.rows.length} of ${step.count} tasks`),
      state.next ? h("button", { type: "button", onclick: loadMore }, "Load more") : null);
    tasksBox.append(section("Tasks", h("div", { class: "filters" }, filter), frame, more));
  }

  async function loadMore(event) {
    event.target.disabled = true;
    try {
      const page = await fetchStep(state.next);
      state.rows = state.rows.concat(page.tasks);
      state.next = page.next;
      drawTasks();
    } catch (err) {
      event.target.replaceWith(errorBox(err));
    }
  }

  // only the run's status says whether anything can still change: a crashed run's step keeps
  // the phase "running" for ever, and polling it would never stop
  const live = () => step.run_status === "running";
  async function refresh() {
    // re-read as many rows as are shown, so statuses and durations move on
    const limit = Math.min(2000, Math.max(PAGE, state.rows.length));
    step = await fetchStep(null, limit);
    state.rows = step.tasks;
    state.next = step.next;
    drawHead(head, step);
    drawTasks();
    if (!live()) drawHistory(historyBox, flow, runId, stepName);
    return live();
  }
  return live() ? poll(refresh, LIVE_MS, (err) => clear(head).append(errorBox(err))) : undefined;
}

function drawHead(head, step) {
  clear(head);
  const d = step.durations;
  head.append(
    h("h1", null, step.step, badge(step.phase), step.caption && step.caption !== step.phase ? h("span", { class: "muted step-caption" }, step.caption) : null),
    h("div", { class: "facts" },
      h("span", null, "tasks ", h("b", null, `${step.done ?? "–"}/${step.total ?? step.count}`), " done"),
      d ? ["min", "median", "p95", "max"].map((k) => h("span", null, `${k} `, h("b", null, formatDuration(d[k]))))
        : h("span", null, "no finished task yet")),
  );
  if (step.code) {
    head.append(h("details", { class: "step-code" }, h("summary", null, "Code"), h("pre", { class: "code" }, step.code)));
  }
}

function taskRow(task) {
  const attempt = task.attempt ?? 0;
  return h("tr", { "data-task": task.task_id },
    h("td", { class: "status" }, badge(task.status)),
    h("td", null, mono(task.task_id, task.url),
      task.origin_pathspec ? h("span", { class: "muted", title: `cloned from ${task.origin_pathspec}` }, " (clone)") : null),
    h("td", { class: "mono" }, task.index && task.index.length ? `[${task.index.join(", ")}]` : ""),
    h("td", null, timeAgo(task.started_at)),
    h("td", { class: "num" }, formatDuration(task.duration)),
    h("td", { class: "num" }, attempt > 0 ? h("a", { href: `${task.url}?attempt=${attempt}` }, String(attempt)) : "0"),
    h("td", null, task.failure ? h("span", { class: "failure" }, task.failure) : ""));
}

// The step's duration over past runs: one bar per run (its span), coloured by the run's status.
async function drawHistory(box, flow, runId, stepName) {
  let history;
  try {
    history = await getJSON(apiPath("flows", flow, "steps", stepName, "history"));
  } catch (err) {
    clear(box).append(errorBox(err));
    return;
  }
  clear(box);
  const points = history.points || [];
  if (!points.length) {
    box.append(h("div", { class: "muted" }, "no finished run of this step yet"));
    return;
  }
  const W = 14, GAP = 4, H = 80, TOP = 6, BOTTOM = 16;
  const longest = Math.max(...points.map((p) => p.span || 0), 1e-3);
  const width = points.length * (W + GAP) + 60;
  const svg = s("svg", { width, height: H + TOP + BOTTOM, class: "history-chart", role: "img",
    "aria-label": `${stepName}'s duration over ${points.length} runs` });
  svg.append(s("text", { x: 0, y: TOP + 9, class: "axis" }, formatDuration(longest)),
    s("line", { x1: 56, x2: width, y1: TOP + H, y2: TOP + H, class: "base" }));
  points.forEach((p, i) => {
    const height = Math.max(2, ((p.span || 0) / longest) * H);
    const x = 60 + i * (W + GAP);
    const here = p.run_id === runId;
    const bar = s("rect", {
      x, y: TOP + H - height, width: W, height, rx: 2, class: here ? "bar here" : "bar",
      fill: statusColor(p.status).fill, "data-run": p.run_id, "data-status": p.status,
    }, s("title", null, `${p.run_id} (${p.status})\nstarted ${formatUtc(p.created_at)}\nspan ${formatDuration(p.span)}`
      + `\nmedian task ${formatDuration(p.median)}\n${p.tasks} task${p.tasks === 1 ? "" : "s"}`));
    svg.append(bar);
    if (here) svg.append(s("text", { x: x + W / 2, y: TOP + H + 12, class: "here-mark", "text-anchor": "middle" }, "▲"));
  });
  // one delegated listener: a bar opens that run's page of this step
  svg.addEventListener("click", (event) => {
    const run = event.target.getAttribute && event.target.getAttribute("data-run");
    if (run) navigate(pageUrl(flow, run, stepName));
  });
  box.append(svg, h("div", { class: "muted legend-note" }, `${points.length} run${points.length === 1 ? "" : "s"}, oldest first; this run marked ▲; `
    + "a bar's height is the step's span (first task start to last task end)"));
}
