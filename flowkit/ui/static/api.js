// The JSON API client every page uses (docs/ui.md, "JSON API"): one way to fetch, one error
// shape, one way to poll.

// An answer other than 200: `message` is the API's `error`, `hint` what to do, `status` the HTTP code.
export class ApiError extends Error {
  constructor(status, error, hint) {
    super(error);
    this.name = "ApiError";
    this.status = status;
    this.hint = hint || "";
  }
}

// The query string of `params` (arrays repeat the name; null, undefined and "" are left out), with its "?".
export function queryString(params) {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) if (v !== null && v !== undefined && v !== "") q.append(name, String(v));
  }
  const text = q.toString();
  return text ? "?" + text : "";
}

// The API path of pathspec parts, each escaped: apiPath("runs", "F", "RUN") -> "/api/runs/F/RUN".
export function apiPath(...parts) {
  return "/api/" + parts.map((p) => encodeURIComponent(p)).join("/");
}

// GET `path` (e.g. "/api/runs") with query `params`; resolves to the parsed JSON, throws ApiError.
export async function getJSON(path, params) {
  let response;
  try {
    response = await fetch(path + queryString(params), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
  } catch (exc) {
    throw new ApiError(0, `cannot reach the flowkit ui server (${exc.message})`,
      "is `flowkit ui` still running? Start it again and reload the page.");
  }
  let body = null;
  try {
    body = await response.json();
  } catch (exc) {
    body = null;
  }
  if (!response.ok) {
    const error = body && body.error ? body.error : `${response.status} ${response.statusText} from ${path}`;
    throw new ApiError(response.status, error, body && body.hint ? body.hint : "");
  }
  if (body === null) throw new ApiError(response.status, `${path} did not answer JSON`, "");
  return body;
}

// Call async `fn` every `ms` (after the previous call ends) until it returns false or the returned stop() is called;
// the first call comes after `ms` (the page has just drawn). Errors are passed to `onError` (polling goes on).
// While the tab is hidden nothing is asked: the next call waits until it is shown again.
export function poll(fn, ms, onError) {
  let stopped = false;
  let timer = null;
  let waiting = null;
  const tick = async () => {
    timer = null;
    if (stopped) return;
    if (document.visibilityState === "hidden") {
      waiting = () => {
        if (document.visibilityState === "hidden") return;
        document.removeEventListener("visibilitychange", waiting);
        waiting = null;
        tick();
      };
      document.addEventListener("visibilitychange", waiting);
      return;
    }
    let again = true;
    try {
      again = (await fn()) !== false;
    } catch (exc) {
      if (onError) onError(exc);
    }
    if (!stopped && again) timer = setTimeout(tick, ms);
  };
  timer = setTimeout(tick, ms);
  return () => {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
    if (waiting) document.removeEventListener("visibilitychange", waiting);
  };
}
