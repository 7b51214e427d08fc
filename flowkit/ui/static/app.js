// The router: picks a page module by location.pathname (docs/ui.md, "Pages"), takes over
// same-origin link clicks (pushState) and Back, and stops the page's polling when it is left.

import { getJSON } from "./api.js";
import { clear, errorBox } from "./ui.js";

const root = document.getElementById("page");
let stopPage = null;
let drawing = 0;

// The page module's name and its pathspec parts for a path.
export function route(pathname) {
  const parts = pathname.split("/").filter((p) => p !== "").map(decodeURIComponent);
  if (parts[0] === "-") {
    if (parts[1] === "deadletters") return { name: "deadletters", parts: [] };
    if (parts[1] === "compare") return { name: "compare", parts: [] };
    return { name: null, parts };
  }
  const names = ["runs", "flow", "run", "step", "task", "artifact"];
  return { name: names[parts.length] || null, parts };
}

async function draw() {
  const mine = ++drawing;
  if (stopPage) {
    stopPage();
    stopPage = null;
  }
  const { name, parts } = route(location.pathname);
  const query = new URLSearchParams(location.search);
  for (const a of document.querySelectorAll(".toplinks a")) {
    a.classList.toggle("active", a.dataset.nav === (name === "deadletters" ? "deadletters" : "runs"));
  }
  // each drawing gets a fresh container: a page left while it still awaits the API draws
  // into its own detached one, never over the page arrived at
  const here = document.createElement("div");
  root.replaceChildren(here);
  if (!name) {
    here.append(errorBox({ message: `no page at ${location.pathname}`,
      hint: "pages are /FLOW, /FLOW/RUN, /FLOW/RUN/STEP, /FLOW/RUN/STEP/TASK, /-/deadletters and /-/compare" }));
    return;
  }
  try {
    const page = await import(`./pages/${name}.js`);
    if (mine !== drawing) return;
    const stop = await page.render(here, { parts, query });
    if (mine !== drawing) {
      if (typeof stop === "function") stop();
      return;
    }
    stopPage = typeof stop === "function" ? stop : null;
  } catch (err) {
    if (mine !== drawing) return;
    console.error(err);
    clear(here).append(errorBox(err));
  }
}

function onClick(event) {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = event.target.closest("a[href]");
  // getAttribute: an SVG <a>'s href and target are not strings
  if (!a || a.getAttribute("target") || a.hasAttribute("download")) return;
  const url = new URL(a.getAttribute("href"), location.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/api/") || url.pathname.startsWith("/-/static/")) return;
  event.preventDefault();
  if (url.href === location.href) return;
  history.pushState(null, "", url.pathname + url.search + url.hash);
  window.scrollTo(0, 0);
  draw();
}

async function showStore() {
  try {
    const flows = await getJSON("/api/flows");
    if (flows.store) {
      const el = document.getElementById("store");
      el.textContent = flows.store;
    }
  } catch (err) {
    // the top bar goes without the store's address; the page shows the API's error itself
  }
}

document.addEventListener("click", onClick);
window.addEventListener("popstate", draw);
window.addEventListener("flowkit:navigate", draw);
showStore();
draw();
