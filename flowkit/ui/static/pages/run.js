// A run's page (`/F/RUN`): header, DAG and failures, or the Gantt timeline with
// `?view=timeline`; polls while the run runs, redrawing only when its `version` changes.

import { apiPath, getJSON, poll } from "../api.js";
import { dagSvg } from "../dag.js";
import { timelineChart } from "../timeline.js";
import {
  append, badge, breadcrumbs, clear, codeWithCopy, dataTable, errorBox, formatDuration, formatUtc, h, loading, section,
  setTitle, statusColor, timeAgo,
} from "../ui.js";

const LIVE_MS = 1000;

export async function render(root, { parts, query }) {
  const [flow, runId] = parts;
  const view = query.get("view") === "timeline" ? "timeline" : "graph";
  setTitle(`${flow}/${runId}`);
  const header = h("div");
  const failures = h("div");
  const tabs = h("nav", { class: "tabs" },
    h("a", { href: location.pathname, class: view === "graph" ? "active" : "", testid: "tab-graph" }, "Graph"),
    h("a", { href: `${location.pathname}?view=timeline`, class: view === "timeline" ? "active" : "", testid: "tab-timeline" }, "Timeline"));
  const body = h("div", null, loading("run"));
  root.append(breadcrumbs([flow, runId]), header, failures, tabs, body);

  let run;
  try {
    run = await getJSON(apiPath("runs", flow, runId));
  } catch (err) {
    clear(root).append(breadcrumbs([flow, runId]), errorBox(err));
    return undefined;
  }
  let version = null;
  let ticker = null;
  const draw = (data) => {
    run = data;
    version = data.version;
    clear(header).append(runHeader(data));
    append(clear(failures), failurePanel(data));
    if (view === "graph") clear(body).append(graphView(data));
  };
  draw(run);

  let timelineWidth = Math.max(700, (root.clientWidth || 1200) - 44);
  const drawTimeline = async () => {
    const data = await getJSON(apiPath("timeline", flow, runId));
    timelineWidth = Math.max(700, (root.clientWidth || timelineWidth) - 44);
    // a redraw while the run runs keeps where the reader had scrolled to
    const old = body.querySelector(".timeline-wrap");
    const at = old ? [old.scrollTop, old.scrollLeft] : null;
    clear(body).append(timelineView(data, flow, runId, timelineWidth));
    const wrap = body.querySelector(".timeline-wrap");
    if (at && wrap) [wrap.scrollTop, wrap.scrollLeft] = at;
  };
  if (view === "timeline") {
    try {
      await drawTimeline();
    } catch (err) {
      clear(body).append(errorBox(err));
    }
  }

  // the header's duration ticks each second while the run runs
  const tick = () => {
    const el = header.querySelector("[data-live-duration]");
    if (el && run.status === "running") el.textContent = formatDuration(Date.now() / 1000 - run.created_at);
  };
  const stops = [];
  if (run.status === "running") {
    ticker = setInterval(tick, 1000);
    stops.push(() => clearInterval(ticker));
    let timelineDue = 0;
    stops.push(poll(async () => {
      const data = await getJSON(apiPath("runs", flow, runId));
      // after a failed poll its error box sits where the failures go: the next answer redraws them
      if (data.version !== version || failures.querySelector(".error-box")) draw(data);
      if (view === "timeline" && (data.status === "running" ? ++timelineDue % 2 === 0 : true)) await drawTimeline();
      if (data.status !== "running") {
        clearInterval(ticker);
        return false;
      }
      return true;
    }, LIVE_MS, (err) => clear(failures).append(errorBox(err))));
  }
  return () => stops.forEach((stop) => stop());
}

function runHeader(run) {
  const live = run.status === "running";
  const facts = h("div", { class: "facts" },
    h("span", null, "started ", h("b", null, timeAgo(run.created_at))),
    h("span", null, "duration ", h("b", { "data-live-duration": live ? "" : null }, formatDuration(run.duration))),
    run.finished_at ? h("span", null, "finished ", h("b", { title: formatUtc(run.finished_at) }, formatUtc(run.finished_at))) : null,
    h("span", null, "user ", h("b", null, run.user || "–")),
    run.origin ? h("span", null, "resumed from ", h("a", { href: run.origin.url, class: "mono" }, run.origin.pathspec)) : null,
    run.explanation && run.origin ? h("span", null, `${run.explanation.ran} ran, ${run.explanation.cloned} cloned, ${run.explanation.reused} reused`) : null,
    live ? h("span", { class: "live" }, "live") : null);
  const tags = h("div", null,
    (run.tags || []).map((t) => h("span", { class: "tag" }, t)),
    (run.system_tags || []).map((t) => h("span", { class: "tag system" }, t)));
  const params = Object.entries(run.parameters || {});
  const left = h("div", null,
    h("h2", null, "Parameters"),
    params.length
      ? h("table", { class: "kv" }, params.map(([k, v]) => h("tr", null, h("th", null, k), h("td", null, v))))
      : h("div", { class: "muted" }, "none"));
  const code = run.code;
  const middle = h("div", null,
    h("h2", null, "Code"),
    run.source ? h("div", { class: "mono muted", title: "the flow's source file" }, run.source) : null,
    code && code.files && code.files.length
      ? h("details", { class: "code-files", open: code.files.length <= 4 },
        h("summary", null, `${code.files.length} file${code.files.length === 1 ? "" : "s"} in the code package`),
        h("div", { class: "mono", style: "font-size:12px" },
          code.files.map((f) => h("div", null, f === code.flow_file ? h("b", null, f) : f))))
      : h("div", { class: "muted" }, "no code package"),
    code && code.digest ? h("div", { class: "muted mono", style: "font-size:11px" }, `package ${code.digest.slice(0, 16)}`) : null);
  const resume = run.resume
    ? h("div", { class: "resume" }, h("h2", null, "Resume"),
      codeWithCopy(run.resume.command, "resume-command", "copy-resume-command"),
      run.resume.python ? codeWithCopy(run.resume.python, "resume-python", "copy-resume-python") : null)
    : null;
  return h("section", { class: "panel", testid: "run-header" },
    h("h1", null, h("span", null, run.flow, " / ", h("span", { class: "mono" }, run.run_id)), badge(run.status, "run-status")),
    facts,
    run.message ? h("div", { class: "exc-msg", style: "margin-bottom:8px" }, run.message) : null,
    tags,
    h("div", { class: "header-grid", style: "margin-top:10px" }, left, middle),
    resume);
}

function failurePanel(run) {
  const failed = run.failures || [];
  const letters = run.dead_letters || [];
  if (!failed.length && !letters.length) return null;
  const panel = h("section", { class: "panel failures", testid: "failures" });
  if (failed.length) {
    panel.append(h("h2", null, `${failed.length} failed task${failed.length === 1 ? "" : "s"}`));
    const { frame, body } = dataTable(["task", "attempt", "failure", "exception"]);
    for (const f of failed) {
      body.append(h("tr", { "data-task": f.task_id },
        h("td", null, h("a", { href: f.url, class: "mono" }, `${f.step}/${f.task_id}`)),
        h("td", { class: "num" }, String(f.attempt)),
        h("td", null, f.failure || ""),
        h("td", null, exceptionLine(f.exception),
          f.dead_letter ? h("span", { class: "tag", title: `dead letter ${f.dead_letter}` }, "dead letter") : null)));
    }
    panel.append(frame);
  }
  if (letters.length) {
    panel.append(h("h2", { style: "margin-top:10px" }, `${letters.length} dead letter${letters.length === 1 ? "" : "s"}`));
    const { frame, body } = dataTable(["task", "attempt", "when", "exception", "retried by"]);
    for (const d of letters) {
      body.append(h("tr", { "data-letter": d.id },
        h("td", null, h("a", { href: d.url, class: "mono" }, `${d.step}/${d.task_id}`)),
        h("td", { class: "num" }, String(d.attempt)),
        h("td", { class: "num" }, timeAgo(d.created_at)),
        h("td", null, exceptionLine(d.exception)),
        h("td", null, (d.retries || []).map((r) => h("span", null, h("a", { href: r.url, class: "mono" }, r.run_id), " ", badge(r.status), " ")))));
    }
    panel.append(frame);
  }
  return panel;
}

// "Type: message" of an Exception shape (or nothing).
export function exceptionLine(exc) {
  if (!exc) return h("span", { class: "muted" }, "–");
  const message = exc.message.length > 300 ? exc.message.slice(0, 299) + "…" : exc.message;
  return h("span", { class: "exc-line", title: exc.qualified_type }, h("span", { class: "exc-type" }, exc.type), ": ", h("span", { class: "exc-msg" }, message));
}

function graphView(run) {
  const wrap = h("div", { class: "dag-wrap" }, dagSvg(run.steps));
  const legend = h("div", { class: "legend" },
    ["waiting", "running", "done", "failed", "cloned", "not run"].map((p) =>
      h("span", null, h("i", { style: `background:${statusColor(p).fill}` }), p)));
  const { frame, body } = dataTable(["step", "phase", "tasks", "started", "span"], { testid: "steps-table" });
  for (const st of run.steps) {
    const span = st.started_at && st.finished_at ? st.finished_at - st.started_at
      : st.started_at && st.phase === "running" ? Date.now() / 1000 - st.started_at : null;
    body.append(h("tr", { "data-step": st.name },
      h("td", null, h("a", { href: st.url, class: "mono" }, st.name)),
      h("td", null, badge(st.phase)),
      h("td", null, st.caption || ""),
      h("td", { class: "num" }, timeAgo(st.started_at)),
      h("td", { class: "num" }, formatDuration(span))));
  }
  return h("div", null, wrap, legend, section("Steps", frame));
}

function timelineView(data, flow, runId, width) {
  if (!data.bars.length) {
    const cloned = data.steps.reduce((n, st) => n + (st.cloned || 0), 0);
    return h("div", { class: "panel muted" },
      cloned ? `No task ran in this run: ${cloned} were cloned from its origin.` : "No task has started yet.");
  }
  const legend = h("div", { class: "legend" },
    ["running", "succeeded", "failed", "caught", "killed"].map((p) =>
      h("span", null, h("i", { style: `background:${statusColor(p).fill}` }), p)),
    h("span", null, h("i", { style: "border:1px solid #c2410c" }), "straggler"),
    h("span", null, `${data.bars.length} attempts, ${formatDuration((data.end || data.now) - data.start)}`));
  return h("div", null, legend, h("div", { class: "timeline-wrap" }, timelineChart(data, flow, runId, width)));
}
