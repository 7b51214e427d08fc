// The artifact page (`/F/RUN/STEP/TASK/NAME`): its type, size and digest, a preview by kind
// (table, array, image, value; too large or not loadable said plainly), and its client snippet.

import { apiPath, getJSON } from "../api.js";
import { append, breadcrumbs, codeWithCopy, errorBox, formatBytes, h, loading, mono, setTitle } from "../ui.js";

export async function render(root, { parts, query }) {
  const [flow, runId, stepName, taskId, name] = parts;
  setTitle(`${name} · ${flow}/${runId}/${stepName}`);
  const attempt = query.get("attempt");
  root.append(breadcrumbs(parts), loading("artifact"));
  let art;
  try {
    art = await getJSON(artifactApi(flow, runId, stepName, taskId, name), { attempt });
  } catch (err) {
    root.lastChild.replaceWith(errorBox(err));
    return undefined;
  }
  root.lastChild.remove();
  root.append(
    h("h1", null, h("span", { class: "mono" }, art.name), h("span", { class: "muted art-type" }, art.type)),
    h("div", { class: "facts" },
      h("span", null, "size ", h("b", null, formatBytes(art.size))),
      h("span", null, "digest ", mono(art.digest || "–")),
      attempt !== null ? h("span", null, "attempt ", h("b", null, attempt)) : null),
    h("section", { class: "panel" }, h("h2", null, "Preview"), previewBox(art.preview, art.snippet)),
    h("section", { class: "panel" }, h("h2", null, "Load it in Python"),
      codeWithCopy(art.snippet, "artifact-snippet", "copy-snippet")),
  );
  return undefined;
}

function artifactApi(flow, runId, stepName, taskId, name) {
  return apiPath("runs", flow, runId, stepName, taskId, "artifacts", name);
}

// The [data-testid=artifact-preview] box of a preview (docs/ui.md, the artifact API's `preview`).
export function previewBox(preview, snippet) {
  const box = h("div", { testid: "artifact-preview", class: `preview kind-${preview ? preview.kind : "none"}` });
  if (!preview) {
    append(box, h("div", { class: "muted" }, "no preview"));
    return box;
  }
  switch (preview.kind) {
    case "table":
      append(box, tablePreview(preview));
      break;
    case "array":
      append(box, 
        h("div", { class: "facts" },
          h("span", null, "shape ", h("b", { class: "mono" }, `(${preview.shape.join(", ")})`)),
          h("span", null, "dtype ", h("b", { class: "mono" }, preview.dtype)),
          preview.stats ? ["min", "max", "mean"].map((k) => h("span", null, `${k} `, h("b", { class: "mono" }, num(preview.stats[k]))))
            : null),
        h("pre", { class: "code" }, preview.text));
      break;
    case "image":
      append(box, h("img", { src: preview.url, alt: `${preview.format} image, ${preview.width}×${preview.height}`,
        width: preview.width, height: preview.height, class: "preview-image" }),
      h("div", { class: "muted" }, `${(preview.format || "").toUpperCase()}, ${preview.width}×${preview.height} px`));
      break;
    case "value":
      append(box, h("pre", { class: "code" }, preview.text),
        preview.truncated ? h("div", { class: "muted" }, "cut at 10,000 characters: load it with the snippet for all of it") : null);
      break;
    case "too_large":
      append(box, h("div", { class: "note" },
        `Not previewed: it is larger than ${formatBytes(preview.limit)} stored. Load it in Python with the snippet`,
        snippet ? [": ", h("code", null, snippet)] : "."));
      break;
    case "error":
      append(box, h("div", { class: "error-box" },
        h("div", { class: "error-title" }, `This value cannot be loaded here: ${preview.message}`),
        h("div", { class: "error-hint" },
          "Load it with the snippet in a Python environment that has the modules its class needs.")));
      break;
    default:
      append(box, h("div", { class: "muted" }, `no preview for a ${preview.kind}`));
  }
  return box;
}

function tablePreview(preview) {
  const columns = preview.columns || [];
  const dtypes = preview.dtypes || [];
  const rows = preview.rows || [];
  const total = preview.shape ? preview.shape[0] : rows.length;
  // the index labels lead each row (a filtered or dated frame's index is not 0, 1, 2...)
  const index = preview.index || null;
  const td = (cell) => h("td", { class: cell === null ? "null" : "" }, cell === null ? "null" : String(cell));
  const table = h("table", { class: "data preview-table" },
    h("thead", null, h("tr", null, index ? h("th", { class: "index" }) : null, columns.map((c, i) =>
      h("th", null, String(c), dtypes[i] ? h("div", { class: "dtype" }, dtypes[i]) : null)))),
    h("tbody", null, rows.map((row, r) => h("tr", null,
      index ? h("th", { class: "index" }, index[r] === null ? "null" : String(index[r])) : null,
      row.map(td)))));
  const shown = rows.length < total || preview.truncated
    ? `showing ${rows.length} of ${total} rows` : `${total} row${total === 1 ? "" : "s"}`;
  const cols = preview.shape && preview.shape[1] > columns.length
    ? `, ${columns.length} of ${preview.shape[1]} columns` : `, ${columns.length} column${columns.length === 1 ? "" : "s"}`;
  return [h("div", { class: "muted table-note" }, shown + cols), h("div", { class: "table-scroll" }, table)];
}

function num(value) {
  if (value === null || value === undefined) return "–";
  return typeof value === "number" && !Number.isInteger(value) ? value.toPrecision(6).replace(/\.?0+$/, "") : String(value);
}
