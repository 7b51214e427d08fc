// The task page (`/F/RUN/STEP/TASK?attempt=N`): its error first when it failed, the attempt
// shown, why it ran, its neighbours, its logs (tailing while the attempt runs, filtered by
// stream and search) and its artifacts with previews opened in place.

import { apiPath, getJSON, poll } from "../api.js";
import {
  badge, breadcrumbs, clear, copyButton, dataTable, errorBox, formatBytes, formatDuration, formatUtc, h, loading, mono,
  navigate, pageUrl, section, setTitle, timeAgo,
} from "../ui.js";
import { previewBox } from "./artifact.js";

const LIVE_MS = 1000;
// a long log draws its last lines only, until "show all"
const TAIL_LINES = 3000;

export async function render(root, { parts, query }) {
  const [flow, runId, stepName, taskId] = parts;
  setTitle(`${stepName}/${taskId} · ${flow}/${runId}`);
  const asked = query.get("attempt");
  const api = apiPath("runs", flow, runId, stepName, taskId);
  root.append(breadcrumbs(parts), loading("task"));
  let task;
  try {
    task = await getJSON(api, { attempt: asked });
  } catch (err) {
    root.lastChild.replaceWith(errorBox(err));
    return undefined;
  }
  root.lastChild.remove();
  const attempt = task.attempt;
  const header = h("div");
  drawHeader(header, task, parts);
  root.append(header);
  if (task.exception) root.append(errorPanel(task.exception, task));
  root.append(whyPanel(task), neighbours(task));
  const logs = logsPanel(api, attempt, task);
  root.append(logs.panel, artifactsPanel(task));
  if ((task.cards || []).length) root.append(cardsPanel(task));
  const stops = [logs.stop];
  if (task.status === "running") {
    // the header (status, duration) moves on until the attempt ends
    stops.push(poll(async () => {
      const now = await getJSON(api, { attempt });
      drawHeader(header, now, parts);
      if (now.status !== "running") navigate(location.pathname + location.search, { replace: true });
      return now.status === "running";
    }, LIVE_MS));
  }
  return () => stops.forEach((stop) => stop && stop());
}

function drawHeader(box, task, parts) {
  clear(box);
  const [flow, runId, stepName] = parts;
  const select = h("select", { name: "attempt", title: "the attempt shown" },
    (task.attempts || []).map((a) => h("option", { value: a.attempt, selected: a.attempt === task.attempt },
      `attempt ${a.attempt}: ${a.status}${a.failure && a.failure !== "error" ? ` (${a.failure})` : ""}`)));
  select.addEventListener("change", () => navigate(`${pageUrl(flow, runId, stepName, task.task_id)}?attempt=${select.value}`));
  const fact = (label, value) => h("span", null, `${label} `, h("b", null, value));
  box.append(
    h("div", { testid: "task-header" },
      h("h1", null, h("span", { class: "mono task-title" }, `${stepName}/${task.task_id}`), badge(task.status, "task-status"),
        select),
      h("div", { class: "facts" },
        fact("attempt", String(task.attempt)),
        task.index && task.index.length ? fact("foreach index", `[${task.index.join(", ")}]`) : null,
        h("span", null, "started ", timeAgo(task.started_at)),
        fact("duration", formatDuration(task.duration)),
        task.host ? fact("host", task.host) : null,
        task.pid !== null && task.pid !== undefined ? fact("pid", String(task.pid)) : null,
        task.exit_code !== null && task.exit_code !== undefined ? fact("exit code", String(task.exit_code)) : null,
        task.failure ? fact("failure", task.failure) : null),
      task.origin_pathspec ? h("div", { class: "note clone-note" }, "cloned from ",
        task.origin_url ? mono(task.origin_pathspec, task.origin_url) : mono(task.origin_pathspec)) : null));
}

function errorPanel(exc, task) {
  return h("section", { class: "panel failures", testid: "task-error" },
    h("h2", null, `Attempt ${task.attempt} ${task.status === "caught" ? "raised (caught)"
      : task.failure && task.failure !== "error" ? task.failure : "failed"}`),
    h("div", null, h("span", { class: "exc-type", title: exc.qualified_type || "" }, exc.type), ": ",
      h("span", { class: "exc-msg" }, exc.message)),
    exc.traceback ? h("pre", { class: "code traceback" }, exc.traceback) : null);
}

function whyPanel(task) {
  const why = task.why;
  const body = why
    ? [h("b", null, why.action), " ", why.reason,
      why.origin ? [" (from ", mono(why.origin, pageUrl(...why.origin.split("/"))), ")"] : null]
    : h("span", { class: "muted" }, "ran: this run was neither resumed nor run with --reuse");
  return h("section", { class: "panel why", testid: "task-why" }, h("h2", null, "Why it ran"), h("div", null, body));
}

function neighbours(task) {
  const list = (items, more) => {
    if (!items || !items.length) return h("span", { class: "muted" }, "none");
    return [items.map((p) => mono(p.pathspec.split("/").slice(2).join("/"), p.url)).flatMap((a) => [a, " "]),
      more > items.length ? h("span", { class: "muted" }, `and ${more - items.length} more`) : null];
  };
  return h("section", { class: "panel neighbours" },
    h("div", null, h("span", { class: "muted" }, "parents: "), list(task.parents, task.parent_count)),
    h("div", null, h("span", { class: "muted" }, "children: "), list(task.children, task.child_count)));
}

// The logs: both streams in time order; stream filter, search, download; tails while the attempt runs.
function logsPanel(api, attempt, task) {
  const state = { lines: [], cursor: null, final: false, all: false, stream: "both", search: "" };
  const view = h("div", { class: "logs", testid: "logs" });
  const note = h("div", { class: "muted logs-note" });
  const streamSel = h("select", { name: "log-stream", title: "which stream" },
    ["both", "stdout", "stderr"].map((v) => h("option", { value: v }, v)));
  const search = h("input", { name: "log-search", type: "search", placeholder: "search the log", size: 24 });
  const download = h("a", { href: `${api}/logs.txt?attempt=${attempt}`, testid: "logs-download", download: "" },
    "Download");
  const counts = h("span", { class: "muted" },
    task.logs ? `${task.logs.stdout} stdout, ${task.logs.stderr} stderr lines` : "");
  streamSel.addEventListener("change", () => { state.stream = streamSel.value; draw(); });
  search.addEventListener("input", () => { state.search = search.value; draw(); });
  const panel = h("section", { class: "panel" }, h("h2", null, "Logs ", counts),
    h("div", { class: "filters" }, streamSel, search, download), view, note);

  const matches = (l) => {
    const q = state.search.toLowerCase();
    return (state.stream === "both" || l.stream === state.stream) && (!q || l.text.toLowerCase().includes(q));
  };
  const atBottom = () => view.scrollHeight - view.scrollTop - view.clientHeight < 24;
  // redraw every line (the filter, the search or "show all" changed)
  function draw() {
    const bottom = atBottom();
    const lines = state.lines.filter(matches);
    const cut = !state.all && lines.length > TAIL_LINES ? lines.length - TAIL_LINES : 0;
    clear(view);
    for (let i = cut; i < lines.length; i++) view.append(lineNode(lines[i], state.search));
    drawNote(lines.length);
    if (bottom) view.scrollTop = view.scrollHeight;
  }
  // a tail's new lines are appended; the oldest drawn go past TAIL_LINES
  function appendLines(added) {
    const bottom = atBottom();
    for (const line of added.filter(matches)) view.append(lineNode(line, state.search));
    while (!state.all && view.childElementCount > TAIL_LINES) view.firstChild.remove();
    drawNote(state.lines.filter(matches).length);
    if (bottom) view.scrollTop = view.scrollHeight;
  }
  function drawNote(matching) {
    view.hidden = view.childElementCount === 0;
    clear(note);
    const n = { stdout: 0, stderr: 0 };
    for (const l of state.lines) n[l.stream] = (n[l.stream] || 0) + 1;
    if (state.lines.length) counts.textContent = `${n.stdout} stdout, ${n.stderr} stderr lines`;
    if (!state.lines.length) note.append(state.final ? "no output" : "no output yet");
    else if (matching > view.childElementCount) {
      note.append(`showing the last ${view.childElementCount} of ${matching} lines `,
        h("button", { type: "button", onclick: () => { state.all = true; draw(); } }, "show all"));
    } else if (state.search || state.stream !== "both") note.append(`${matching} of ${state.lines.length} lines`);
    if (!state.final) note.append(h("span", { class: "live" }, "live"));
  }
  async function fetchLines() {
    const page = await getJSON(`${api}/logs`, { attempt, after: state.cursor });
    for (const line of page.lines) line.text = plainText(line.text);
    state.lines = state.lines.concat(page.lines);
    state.cursor = page.cursor;
    const ended = page.final && !state.final;
    state.final = page.final;
    if (drawn && (page.lines.length || ended)) appendLines(page.lines);
    return !state.final;
  }
  let stop = null;
  let drawn = false;
  view.append(loading("logs"));
  fetchLines().then((more) => {
    draw();
    drawn = true;
    view.scrollTop = view.scrollHeight;
    if (more) stop = poll(fetchLines, LIVE_MS, (err) => clear(note).append(errorBox(err)));
  }, (err) => clear(view).append(errorBox(err)));
  return { panel, stop: () => stop && stop() };
}

function lineNode(line, search) {
  return h("div", { class: `log-line ${line.stream}` },
    h("span", { class: "log-time", title: formatUtc(line.t) }, clock(line.t)),
    h("span", { class: "log-stream" }, line.stream),
    h("span", { class: "log-text" }, highlight(line.text, search)));
}

// A log line without its terminal escape sequences (colours, cursor moves), which would show as
// "\x1b[31m" litter; the download keeps them.
const ESCAPES = /\x1b\[[0-9;?]*[ -\/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;
function plainText(text) {
  return text.includes("\x1b") ? text.replace(ESCAPES, "") : text;
}

// "HH:MM:SS.mmm" (UTC) of an epoch time.
function clock(epoch) {
  return new Date(epoch * 1000).toISOString().slice(11, 23);
}

function highlight(text, search) {
  if (!search) return text;
  const lower = text.toLowerCase();
  const q = search.toLowerCase();
  const out = [];
  let at = 0;
  for (let i = lower.indexOf(q); i >= 0; i = lower.indexOf(q, at)) {
    out.push(text.slice(at, i), h("mark", null, text.slice(i, i + q.length)));
    at = i + q.length;
  }
  out.push(text.slice(at));
  return out;
}

// The attempt's artifacts: a name links to its page; a click on "preview" opens it in place (loaded then).
// The task's @card reports: each opens in a new tab, served sandboxed (docs/ui.md).
function cardsPanel(task) {
  const links = task.cards.map((c) => h("li", null,
    h("a", { href: c.url, target: "_blank", rel: "noopener" }, c.id ? `${c.type} (${c.id})` : c.type)));
  return section("Cards", h("ul", { testid: "task-cards", class: "cards" }, ...links));
}

function artifactsPanel(task) {
  const { frame, body } = dataTable(["name", "type", "size", "", ""], { testid: "artifacts", class: "data artifacts-table" });
  for (const art of task.artifacts || []) {
    const snippet = `${task.snippet}.${art.name}`;
    const row = h("tr", { "data-artifact": art.name },
      h("td", null, mono(art.name, art.url)),
      h("td", { class: "mono muted" }, art.type),
      h("td", { class: "num" }, formatBytes(art.size)),
      h("td", null, h("button", { type: "button", class: "preview-toggle", onclick: () => toggle() }, "preview")),
      h("td", null, copyButton(snippet, null, "Copy snippet")));
    let open = null;
    const toggle = async () => {
      if (open) {
        open.remove();
        open = null;
        return;
      }
      open = h("tr", { class: "preview-row" }, h("td", { colspan: 5 }, loading("preview")));
      row.after(open);
      const cell = open.firstChild;
      try {
        const full = await getJSON(art.api);
        clear(cell).append(previewBox(full.preview, full.snippet));
      } catch (err) {
        clear(cell).append(errorBox(err));
      }
    };
    body.append(row);
  }
  if (!(task.artifacts || []).length) {
    body.append(h("tr", null, h("td", { colspan: 5, class: "muted" },
      task.status === "failed" ? "a failed attempt stores no artifact"
        : task.status === "running" ? "none yet: a task stores its artifacts when it ends" : "no artifact")));
  }
  return section("Artifacts", frame);
}
