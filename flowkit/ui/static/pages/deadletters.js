// The dead letters page (`/-/deadletters`): every task that exhausted its retries, newest
// first, with its exception and the runs that retried it.

import { getJSON } from "../api.js";
import { badge, clear, dataTable, errorBox, h, loading, setTitle, timeAgo } from "../ui.js";
import { exceptionLine } from "./run.js";

export async function render(root) {
  setTitle("Dead letters");
  const holder = h("div", null, loading("dead letters"));
  root.append(h("h1", null, "Dead letters"), holder);
  let data;
  try {
    data = await getJSON("/api/deadletters");
  } catch (err) {
    clear(holder).append(errorBox(err));
    return;
  }
  const { frame, body } = dataTable(["when", "flow", "run", "task", "attempt", "failure", "exception", "retried by"],
    { testid: "deadletters" });
  for (const d of data.letters) {
    body.append(h("tr", { "data-letter": d.id },
      h("td", { class: "num" }, timeAgo(d.created_at)),
      h("td", null, h("a", { href: "/" + encodeURIComponent(d.flow) }, d.flow)),
      h("td", null, h("a", { href: d.run_url, class: "mono" }, d.run_id)),
      h("td", null, h("a", { href: d.url, class: "mono" }, `${d.step}/${d.task_id}`)),
      h("td", { class: "num" }, String(d.attempt)),
      h("td", null, d.failure || ""),
      h("td", null, exceptionLine(d.exception)),
      h("td", null, d.retries && d.retries.length
        ? d.retries.map((r) => h("div", null, h("a", { href: r.url, class: "mono" }, r.run_id), " ", badge(r.status)))
        : h("span", { class: "muted" }, "not retried"))));
  }
  clear(holder).append(
    h("div", { class: "facts" }, h("span", null, h("b", null, String(data.letters.length)), " dead letters")),
    data.letters.length ? frame : h("div", { class: "panel muted" }, "No dead letters: every task that failed was retried or caught."),
  );
  if (!data.letters.length) holder.append(frame);
}
