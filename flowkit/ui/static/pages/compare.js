// The comparison page (`/-/compare?a=F/RUN&b=F/RUN`): two runs side by side, their
// parameters, steps and artifacts, differing rows marked `differs` (listed first by the API).

import { getJSON } from "../api.js";
import {
  badge, clear, dataTable, errorBox, formatBytes, formatDuration, h, loading, navigate, section, setTitle, timeAgo,
} from "../ui.js";

export async function render(root, { query }) {
  setTitle("Compare");
  const a = query.get("a") || "";
  const b = query.get("b") || "";
  root.append(h("h1", null, "Compare runs"), pickForm(a, b));
  if (!a || !b) {
    root.append(h("div", { class: "panel muted" }, "Name two runs as FLOW/RUN, or tick two runs on the Runs page and press Compare."));
    return;
  }
  const holder = h("div", null, loading("comparison"));
  root.append(holder);
  let data;
  try {
    data = await getJSON("/api/compare", { a, b });
  } catch (err) {
    clear(holder).append(errorBox(err));
    return;
  }
  clear(holder).append(
    h("div", { class: "split" }, runCard("A", data.a), runCard("B", data.b)),
    section(`Parameters (${count(data.parameters, (p) => !p.same)} differ)`, parametersTable(data.parameters)),
    section(`Steps (${count(data.steps, stepDiffers)} differ)`, stepsTable(data.steps)),
    section(`Artifacts (${count(data.artifacts, (x) => !x.same)} differ)`, artifactsTable(data.artifacts)));
}

function count(rows, differs) {
  return rows.filter(differs).length;
}

function pickForm(a, b) {
  const input = (name, value) => h("input", { name, value, placeholder: "Flow/RUN_ID", size: 40, class: "mono" });
  const form = h("form", { class: "filters" },
    h("label", null, "run A", input("a", a)), h("label", null, "run B", input("b", b)),
    h("button", { type: "submit" }, "Compare"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const q = new URLSearchParams({ a: form.elements.a.value.trim(), b: form.elements.b.value.trim() });
    navigate(`/-/compare?${q}`);
  });
  return form;
}

function runCard(label, run) {
  return h("section", { class: "panel" },
    h("h2", null, `${label}: `, h("a", { href: run.url, class: "mono" }, run.pathspec), " ", badge(run.status)),
    h("div", { class: "facts" },
      h("span", null, "started ", h("b", null, timeAgo(run.created_at))),
      h("span", null, "duration ", h("b", null, formatDuration(run.duration))),
      h("span", null, "user ", h("b", null, run.user || "–")),
      run.origin_run_id ? h("span", null, "resumed from ", h("span", { class: "mono" }, run.origin_run_id)) : null),
    h("div", null, (run.tags || []).map((t) => h("span", { class: "tag" }, t))));
}

function cell(value) {
  return value === null || value === undefined ? h("span", { class: "muted" }, "–") : String(value);
}

function parametersTable(rows) {
  const { frame, body } = dataTable(["parameter", "A", "B"], { testid: "compare-parameters" });
  for (const p of rows) {
    body.append(h("tr", { class: p.same ? "" : "differs", "data-name": p.name },
      h("td", { class: "mono" }, p.name), h("td", { class: "mono" }, cell(p.a)), h("td", { class: "mono" }, cell(p.b))));
  }
  if (!rows.length) body.append(h("tr", null, h("td", { colspan: 3, class: "muted" }, "Neither run has parameters.")));
  return frame;
}

function stepDiffers(st) {
  if (!st.in_a || !st.in_b || st.code_changed) return true;
  return st.a.phase !== st.b.phase || st.a.tasks !== st.b.tasks;
}

function stepSide(side, present) {
  if (!present || !side) return h("span", { class: "muted" }, "not in this run");
  return h("span", null, badge(side.phase), ` ${side.tasks} task${side.tasks === 1 ? "" : "s"}, ${formatDuration(side.span)}`);
}

function stepsTable(rows) {
  const { frame, body } = dataTable(["step", "A", "B", "code"], { testid: "compare-steps" });
  for (const st of rows) {
    body.append(h("tr", { class: stepDiffers(st) ? "differs" : "", "data-name": st.name },
      h("td", { class: "mono" }, st.name), h("td", null, stepSide(st.a, st.in_a)), h("td", null, stepSide(st.b, st.in_b)),
      h("td", null, st.code_changed ? h("b", null, "changed") : h("span", { class: "muted" }, "same"))));
  }
  return frame;
}

function artifactSide(side) {
  if (!side) return h("span", { class: "muted" }, "absent");
  return h("div", null,
    side.text !== null && side.text !== undefined
      ? h("div", { class: "mono art-text" }, side.text)
      : h("div", { class: "muted" }, "(over 4 KiB: compared by digest)"),
    h("div", { class: "muted mono", style: "font-size:11px" }, `${side.type}, ${formatBytes(side.size)}, ${String(side.digest).slice(0, 12)}`));
}

function artifactsTable(rows) {
  const { frame, body } = dataTable(["step", "artifact", "A", "B"], { testid: "compare-artifacts", class: "data fixed" });
  for (const x of rows) {
    body.append(h("tr", { class: x.same ? "" : "differs", "data-name": `${x.step}.${x.name}` },
      h("td", { class: "mono" }, x.step), h("td", { class: "mono" }, x.name),
      h("td", null, artifactSide(x.a)), h("td", null, artifactSide(x.b))));
  }
  if (!rows.length) body.append(h("tr", null, h("td", { colspan: 4, class: "muted" }, "No step ran a single task in both runs.")));
  return frame;
}
