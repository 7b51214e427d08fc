// The run's Gantt timeline as one SVG (docs/ui.md, GET /api/timeline/F/RUN): lanes grouped
// by step with the step's name on the left, one bar per attempt coloured by its status,
// stragglers outlined, a time axis with ticks. Built as one string and one delegated click
// listener, so 10,000 bars stay fast.

import { formatDuration, formatUtc, navigate, pageUrl, statusColor } from "./ui.js";

const LABEL_W = 170;
const RIGHT_PAD = 48;
const AXIS_H = 26;
const GROUP_GAP = 6;

function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// A tick step (1, 2 or 5 times a power of ten seconds, or whole minutes/hours) giving about `count` ticks over `span`.
function tickStep(span, count) {
  const nice = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900,
    1800, 3600, 7200, 10800, 21600, 43200, 86400];
  const raw = span / Math.max(1, count);
  return nice.find((n) => n >= raw) || Math.ceil(raw / 86400) * 86400;
}

// An axis label: durations as formatDuration writes them, whole seconds, minutes, hours and days without their zeros.
function tickLabel(seconds) {
  return formatDuration(seconds).replace(/ 00 [smh]$/, "").replace(/\.0 s$/, " s");
}

// A <div> holding the timeline <svg data-testid=timeline> (and its hover tooltip) of `data` (the timeline API's answer) for run `flow/runId`, `width` px wide.
export function timelineChart(data, flow, runId, width) {
  const col = Object.fromEntries(data.columns.map((name, i) => [name, i]));
  const totalLanes = data.steps.reduce((n, st) => n + Math.max(1, st.lanes), 0);
  // lanes shrink as they multiply, never under 4 px: 1,000 lanes scroll instead of vanishing
  const laneH = Math.max(4, Math.min(20, Math.floor(640 / Math.max(1, totalLanes))));
  const barPad = laneH >= 10 ? 2 : laneH >= 6 ? 1 : 0;
  const start = data.start;
  const end = Math.max(data.end || data.now || start, start + 0.001);
  const plotW = Math.max(400, width - LABEL_W - RIGHT_PAD);
  const xOf = (t) => LABEL_W + ((t - start) / (end - start)) * plotW;

  const groupTop = [];
  let yCursor = AXIS_H;
  for (const st of data.steps) {
    groupTop.push(yCursor);
    yCursor += Math.max(1, st.lanes) * laneH + GROUP_GAP;
  }
  const height = yCursor + 4;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" data-testid="timeline" class="timeline" width="${LABEL_W + plotW + RIGHT_PAD}" height="${height}">`);

  const tick = tickStep(end - start, Math.floor(plotW / 90));
  for (let t = 0; t <= end - start + 1e-9; t += tick) {
    const x = xOf(start + t).toFixed(1);
    out.push(`<line class="grid" x1="${x}" x2="${x}" y1="${AXIS_H - 6}" y2="${height}"/>`);
    out.push(`<text x="${x}" y="${AXIS_H - 10}" text-anchor="middle">${esc(t === 0 ? "0" : "+" + tickLabel(t))}</text>`);
  }
  data.steps.forEach((st, i) => {
    const top = groupTop[i];
    const h = Math.max(1, st.lanes) * laneH;
    if (i % 2 === 0) out.push(`<rect x="0" y="${top}" width="${LABEL_W + plotW + RIGHT_PAD}" height="${h}" fill="#f6f8fa"/>`);
    const note = st.cloned ? ` (${st.cloned} cloned)` : "";
    const label = (st.name.length > 20 ? st.name.slice(0, 19) + "…" : st.name);
    const textY = top + Math.min(h, 20) / 2 + 4;
    out.push(`<a href="${esc(pageUrl(flow, runId, st.name))}"><text class="lane-name" x="6" y="${textY}">${esc(label)}</text></a>`);
    out.push(`<text x="${LABEL_W - 6}" y="${textY}" text-anchor="end">${esc(st.tasks)}${esc(note)}</text>`);
  });

  for (let i = 0; i < data.bars.length; i++) {
    const bar = data.bars[i];
    const step = data.steps[bar[col.step]];
    const status = bar[col.status];
    const barEnd = bar[col.end] === null ? data.now : bar[col.end];
    const x = xOf(bar[col.start]);
    const w = Math.max(1.5, xOf(barEnd) - x);
    const y = groupTop[bar[col.step]] + bar[col.lane] * laneH + barPad;
    const straggler = bar[col.straggler];
    out.push(`<rect class="bar${straggler ? " straggler" : ""}" data-i="${i}" data-step="${esc(step.name)}" data-status="${esc(status)}" ` +
      `x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${laneH - 2 * barPad}" rx="${laneH >= 10 ? 2 : 0}" ` +
      `fill="${statusColor(status).fill}"${w >= 4 ? ` stroke="${statusColor(status).text}" stroke-opacity="0.45"` : ""}/>`);
  }
  if (data.end === null && data.now) {
    const x = xOf(data.now).toFixed(1);
    out.push(`<line class="now" x1="${x}" x2="${x}" y1="${AXIS_H - 6}" y2="${height}"/>`);
  }
  out.push("</svg>");

  const holder = document.createElement("div");
  holder.innerHTML = out.join("");
  const svg = holder.firstChild;
  // one tooltip for every bar, its text made on hover: 10,000 <title>s would double the page
  const tip = document.createElement("div");
  tip.className = "timeline-tip";
  tip.hidden = true;
  svg.addEventListener("mousemove", (event) => {
    const rect = event.target.closest("rect.bar");
    if (!rect) {
      tip.hidden = true;
      return;
    }
    const bar = data.bars[Number(rect.dataset.i)];
    const barEnd = bar[col.end] === null ? data.now : bar[col.end];
    tip.textContent = `${data.steps[bar[col.step]].name}/${bar[col.task_id]}  attempt ${bar[col.attempt]}\n` +
      `${bar[col.status]}${bar[col.straggler] ? ", straggler" : ""}: ${formatDuration(barEnd - bar[col.start])}` +
      `${bar[col.end] === null ? " so far" : ""}\nstarted ${formatUtc(bar[col.start])}`;
    tip.hidden = false;
    tip.style.left = `${event.clientX + 14}px`;
    tip.style.top = `${event.clientY + 14}px`;
  });
  svg.addEventListener("mouseleave", () => { tip.hidden = true; });
  svg.addEventListener("click", (event) => {
    const rect = event.target.closest("rect.bar");
    if (!rect) return;
    const bar = data.bars[Number(rect.dataset.i)];
    const step = data.steps[bar[col.step]].name;
    navigate(`${pageUrl(flow, runId, step, bar[col.task_id])}?attempt=${bar[col.attempt]}`);
  });
  const frame = document.createElement("div");
  frame.append(svg, tip);
  return frame;
}
