// The run's DAG as one SVG (docs/ui.md, `steps` of GET /api/runs/F/RUN): a column per
// `depth`, a row per `row`, boxes coloured by phase with their `done/total` caption, each a
// link to the step's page; an edge back (a recursion) is drawn as an arc under the boxes.

import { s, statusColor } from "./ui.js";

const BOX_W = 172;
const BOX_H = 46;
const GAP_X = 56;
const GAP_Y = 22;
const PAD = 14;

function fit(text, chars) {
  return text.length <= chars ? text : text.slice(0, chars - 1) + "…";
}

// The <svg data-testid=dag> of `steps` (each {name, url, next, depth, row, phase, caption}).
export function dagSvg(steps) {
  const byName = new Map(steps.map((st) => [st.name, st]));
  const columns = Math.max(0, ...steps.map((st) => st.depth)) + 1;
  const rows = Math.max(0, ...steps.map((st) => st.row)) + 1;
  const hasBack = steps.some((st) => st.next.some((n) => byName.has(n) && byName.get(n).depth <= st.depth));
  const width = PAD * 2 + 6 + columns * BOX_W + (columns - 1) * GAP_X;
  const height = PAD * 2 + 6 + rows * BOX_H + (rows - 1) * GAP_Y + (hasBack ? 36 : 0);
  const x = (st) => PAD + st.depth * (BOX_W + GAP_X);
  const y = (st) => PAD + st.row * (BOX_H + GAP_Y);

  const svg = s("svg", { testid: "dag", class: "dag", width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  svg.append(s("defs", null,
    s("marker", { id: "dag-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" },
      s("path", { d: "M0,0 L10,5 L0,10 z", fill: "#8c959f" }))));

  const edges = s("g", { class: "dag-edges" });
  for (const st of steps) {
    for (const name of st.next) {
      const to = byName.get(name);
      if (!to) continue;
      if (to.depth > st.depth) {
        const x1 = x(st) + BOX_W, y1 = y(st) + BOX_H / 2, x2 = x(to) - 2, y2 = y(to) + BOX_H / 2;
        const mid = (x1 + x2) / 2;
        edges.append(s("path", { class: "dag-edge", d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`,
          "marker-end": "url(#dag-arrow)", "data-from": st.name, "data-to": name }));
      } else {
        // back to an earlier (or the same) column: an arc under the boxes, from bottom to bottom
        // a step looping to itself leaves and comes back 60 px apart, so the arc reads as a loop
        const self = to === st ? 30 : 0;
        const x1 = x(st) + BOX_W / 2 - self, y1 = y(st) + BOX_H, x2 = x(to) + BOX_W / 2 + self, y2 = y(to) + BOX_H + 2;
        const low = Math.max(y1, y2) + 30;
        edges.append(s("path", { class: "dag-edge back", d: `M${x1},${y1} C${x1},${low} ${x2},${low} ${x2},${y2}`,
          "marker-end": "url(#dag-arrow)", "data-from": st.name, "data-to": name }));
      }
    }
  }
  svg.append(edges);

  for (const st of steps) {
    const c = statusColor(st.phase);
    // a foreach's box is drawn as a stack: its tasks are many
    const stack = st.foreach
      ? [s("rect", { x: x(st) + 6, y: y(st) + 6, width: BOX_W, height: BOX_H, rx: 7, fill: c.fill, opacity: 0.55 }),
        s("rect", { x: x(st) + 3, y: y(st) + 3, width: BOX_W, height: BOX_H, rx: 7, fill: c.fill, opacity: 0.8 })]
      : [];
    const box = s("a", { href: st.url },
      s("title", null, `${st.name}${st.foreach ? " (foreach)" : ""}: ${st.phase}${st.caption ? ", " + st.caption : ""}`),
      ...stack,
      s("rect", { x: x(st), y: y(st), width: BOX_W, height: BOX_H, rx: 7, fill: c.fill }),
      s("text", { class: "name", x: x(st) + 10, y: y(st) + 19 }, fit(st.name, 24)),
      s("text", { class: "caption", x: x(st) + 10, y: y(st) + 36 }, fit(st.caption || st.phase, 28)));
    svg.append(s("g", { class: "dag-step", "data-step": st.name, "data-phase": st.phase }, box));
  }
  return svg;
}
