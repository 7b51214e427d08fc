// What every page draws with (docs/ui.md, "Front end"): DOM helpers, time and duration
// formats, status badges and colours, breadcrumbs, a copy button, the error box, navigation.

const SVG_NS = "http://www.w3.org/2000/svg";

// One colour per state, everywhere (badges, DAG boxes, timeline bars): {fill, text}.
export const STATUS_COLORS = {
  running: { fill: "#fde68a", text: "#92400e" },
  waiting: { fill: "#eef0f3", text: "#4b5563" },
  "not run": { fill: "#eef0f3", text: "#6b7280" },
  succeeded: { fill: "#bbf7d0", text: "#166534" },
  done: { fill: "#bbf7d0", text: "#166534" },
  failed: { fill: "#fecaca", text: "#b91c1c" },
  killed: { fill: "#fecaca", text: "#b91c1c" },
  crashed: { fill: "#fecaca", text: "#b91c1c" },
  caught: { fill: "#fed7aa", text: "#9a3412" },
  cloned: { fill: "#bfdbfe", text: "#1e40af" },
  cancelled: { fill: "#e5e7eb", text: "#374151" },
};

// The {fill, text} colours of a status or phase (grey for one not known).
export function statusColor(status) {
  return STATUS_COLORS[status] || STATUS_COLORS.waiting;
}

function put(el, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "testid") el.setAttribute("data-testid", value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, ...children);
  return el;
}

// Append children to `el`: nodes, strings (as text), numbers; arrays are flattened, null/false skipped.
export function append(el, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// An HTML element: h("a", {href: "/x", class: "c", testid: "t", onclick: f}, "text", child...).
export function h(tag, attrs, ...children) {
  return put(document.createElement(tag), attrs, children);
}

// An SVG element, as h() makes HTML ones.
export function s(tag, attrs, ...children) {
  return put(document.createElementNS(SVG_NS, tag), attrs, children);
}

// Remove every child of `el`; returns `el`.
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// The page address of pathspec parts, each escaped: pageUrl("F", "RUN") -> "/F/RUN".
export function pageUrl(...parts) {
  return "/" + parts.map((p) => encodeURIComponent(p)).join("/");
}

// Go to `url` inside the single page (pushState, or replaceState with {replace: true}) and draw it.
export function navigate(url, options) {
  if (options && options.replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  window.dispatchEvent(new CustomEvent("flowkit:navigate"));
}

// A link; `cls` may add classes ("mono" for ids).
export function link(href, text, cls) {
  return h("a", { href, class: cls }, text);
}

// An id in monospace (a span, or a link when `href` is given).
export function mono(text, href) {
  return href ? h("a", { href, class: "mono" }, text) : h("span", { class: "mono" }, text);
}

// A duration in seconds as "250 ms", "1.2 s", "3 m 05 s", "2 h 04 m", "3 d 02 h"; "–" when null.
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  const pad = (n) => String(n).padStart(2, "0");
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 59.95) return `${seconds.toFixed(1)} s`;
  const total = Math.round(seconds);
  if (total < 3600) return `${Math.floor(total / 60)} m ${pad(total % 60)} s`;
  if (total < 86400) return `${Math.floor(total / 3600)} h ${pad(Math.floor((total % 3600) / 60))} m`;
  return `${Math.floor(total / 86400)} d ${pad(Math.floor((total % 86400) / 3600))} h`;
}

// An epoch time as exact UTC text: "2026-11-30 01:02:03 UTC"; "" when null.
export function formatUtc(epoch) {
  if (epoch === null || epoch === undefined) return "";
  return new Date(epoch * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

// An epoch time relative to now: "just now", "12 s ago", "5 m ago", "3 h ago", "4 d ago", else the UTC date.
export function formatRelative(epoch, now) {
  if (epoch === null || epoch === undefined) return "–";
  const ago = (now === undefined ? Date.now() / 1000 : now) - epoch;
  if (ago < 5) return "just now";
  if (ago < 60) return `${Math.floor(ago)} s ago`;
  if (ago < 3600) return `${Math.floor(ago / 60)} m ago`;
  if (ago < 86400) return `${Math.floor(ago / 3600)} h ago`;
  if (ago < 30 * 86400) return `${Math.floor(ago / 86400)} d ago`;
  return formatUtc(epoch).slice(0, 10);
}

// A <time> showing the relative time, the exact UTC time on hover.
export function timeAgo(epoch) {
  if (epoch === null || epoch === undefined) return h("span", { class: "muted" }, "–");
  return h("time", { datetime: new Date(epoch * 1000).toISOString(), title: formatUtc(epoch) },
    formatRelative(epoch));
}

// A status badge (a span.badge coloured by status); `testid` optional.
export function badge(status, testid) {
  const c = statusColor(status);
  return h("span", { class: "badge", testid, "data-status": status,
    style: `background:${c.fill};color:${c.text}` }, status);
}

// Parameters {name: repr} as compact "k=v k=v" text.
export function formatParams(parameters) {
  return Object.entries(parameters || {}).map(([k, v]) => `${k}=${v}`).join("  ");
}

// The breadcrumbs of pathspec parts [flow, run, step, task, artifact]: each links to its page, the last is plain.
export function breadcrumbs(parts) {
  const nav = h("nav", { class: "crumbs" }, h("a", { href: "/" }, "Runs"));
  parts.forEach((part, i) => {
    nav.append(h("span", { class: "sep" }, "/"));
    const cls = i === 0 ? "" : "mono";
    nav.append(i === parts.length - 1
      ? h("span", { class: `here ${cls}` }, part)
      : h("a", { href: pageUrl(...parts.slice(0, i + 1)), class: cls }, part));
  });
  return nav;
}

// A button copying `text` to the clipboard ("Copy", then "Copied"); `testid` optional.
export function copyButton(text, testid, label) {
  const button = h("button", { type: "button", class: "copy", testid, title: "copy to the clipboard" },
    label || "Copy");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch (exc) {
      // no clipboard (an http page off localhost): select a hidden text area and copy
      const area = h("textarea", { style: "position:fixed;left:-9999px" }, text);
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label || "Copy"; }, 1500);
  });
  return button;
}

// A code block with a copy button beside it; `testid` goes on the <pre>, `copyTestid` on the button.
export function codeWithCopy(text, testid, copyTestid) {
  return h("div", { class: "code-copy" }, h("pre", { class: "code", testid }, text), copyButton(text, copyTestid));
}

// The readable box for an error (an ApiError's message and hint, or any Error).
export function errorBox(err) {
  const status = err && err.status ? ` (${err.status})` : "";
  return h("div", { class: "error-box", role: "alert", testid: "error" },
    h("div", { class: "error-title" }, (err && err.message ? err.message : String(err)) + status),
    err && err.hint ? h("div", { class: "error-hint" }, err.hint) : null);
}

// A "loading" note for a page whose data has not come yet.
export function loading(what) {
  return h("div", { class: "loading muted" }, `Loading ${what || ""}…`);
}

// A table with a header row of `headers` (strings or nodes) and an empty <tbody>: {table, body, frame};
// a page appends `frame`, the box that scrolls the table sideways when the window is too narrow for it.
export function dataTable(headers, attrs) {
  const body = h("tbody");
  const table = h("table", { class: "data", ...(attrs || {}) },
    h("thead", null, h("tr", null, headers.map((x) => h("th", null, x)))), body);
  return { table, body, frame: h("div", { class: "table-frame" }, table) };
}

// A section with a heading and content.
export function section(title, ...children) {
  return h("section", { class: "panel" }, h("h2", null, title), ...children);
}

// Set the document title: "TEXT · flowkit".
export function setTitle(text) {
  document.title = text ? `${text} · flowkit` : "flowkit";
}

// A size in bytes as "812 B", "4.2 KiB", "3.1 MiB", "1 GiB"; "–" when null.
export function formatBytes(size) {
  if (size === null || size === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = size;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1).replace(/\.0$/, "")} ${units[unit]}`;
}
