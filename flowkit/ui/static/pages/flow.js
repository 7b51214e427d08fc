// A flow's page (`/F`): its runs (the runs table with the flow fixed) and, for each step of
// its latest run, the step's duration over past runs as bars.

import { getJSON, apiPath } from "../api.js";
import { breadcrumbs, clear, errorBox, formatDuration, formatUtc, h, loading, s, setTitle, statusColor } from "../ui.js";
import { runsList } from "./runs.js";

export async function render(root, { parts, query }) {
  const [flow] = parts;
  setTitle(flow);
  const history = h("section", { class: "panel", testid: "flow-history" }, h("h2", null, "Step durations over past runs"),
    loading("step history"));
  root.append(breadcrumbs([flow]), h("h1", null, flow), history);
  const stop = await runsList(root, { query, flow });
  drawHistory(history, flow);
  return stop;
}

async function drawHistory(panel, flow) {
  const body = h("div", { class: "step-history" });
  try {
    const latest = await getJSON("/api/runs", { flow, limit: 1 });
    if (!latest.runs.length) {
      clear(panel).append(h("h2", null, "Step durations over past runs"), h("div", { class: "muted" }, "No runs yet."));
      return;
    }
    const run = await getJSON(apiPath("runs", flow, latest.runs[0].run_id));
    const steps = run.steps.map((st) => st.name);
    const answers = await Promise.all(steps.map((step) =>
      getJSON(apiPath("flows", flow, "steps", step, "history"), { limit: 30 }).catch((err) => err)));
    steps.forEach((step, i) => {
      const answer = answers[i];
      body.append(h("span", { class: "mono" }, step),
        answer instanceof Error ? h("span", { class: "muted" }, answer.message) : historyBars(answer.points));
    });
    clear(panel).append(h("h2", null, "Step durations over past runs"),
      h("div", { class: "muted", style: "font-size:12px;margin-bottom:6px" },
        `span of each step in its last ${30} runs, oldest first; steps of ${latest.runs[0].run_id}`), body);
  } catch (err) {
    clear(panel).append(h("h2", null, "Step durations over past runs"), errorBox(err));
  }
}

// Bars of a step's span per run (oldest first), coloured by the run's status, each linking to that run's step.
export function historyBars(points) {
  if (!points.length) return h("span", { class: "muted" }, "never ran (or always cloned)");
  const width = 9;
  const gap = 3;
  const height = 30;
  const top = Math.max(...points.map((p) => p.span || 0), 1e-9);
  const svg = s("svg", { class: "spark", width: points.length * (width + gap), height, role: "img" });
  points.forEach((p, i) => {
    const value = p.span || 0;
    const bar = Math.max(2, Math.round((value / top) * (height - 2)));
    const a = s("a", { href: p.url });
    a.append(s("rect", { x: i * (width + gap), y: height - bar, width, height: bar, rx: 1,
      fill: statusColor(p.status === "succeeded" ? "succeeded" : p.status).fill,
      stroke: p.status === "succeeded" ? "#4ade80" : "#9ca3af" },
    s("title", null, `${p.run_id}  ${formatUtc(p.created_at)}\nspan ${formatDuration(p.span)}, median task ${formatDuration(p.median)}, ${p.tasks} tasks, ${p.status}`)));
    svg.append(a);
  });
  const last = points[points.length - 1];
  return h("span", null, svg, h("span", { class: "muted", style: "margin-left:8px;font-size:12px" },
    `last ${formatDuration(last.span)}`));
}
