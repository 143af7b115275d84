// imagepipe page: upload images, then follow each task until it ends.
//
// Every value that came from a user or the server is written with textContent or as an
// attribute, never as HTML: filenames are whatever the uploader chose.

const API = "/api/v1";
const TERMINAL = new Set(["COMPLETED", "FAILED", "CANCELLED"]);
// Browsers allow 6 HTTP/1.1 connections per host and an event stream holds one open for as
// long as its task runs: past this many streams, tasks are polled instead, so uploads and
// other requests never queue behind them.
const MAX_STREAMS = 3;
const POLL_MS = 1000;
const POLL_MAX_MS = 5000;
// A dropped stream is opened again after this, doubling on each drop in a row up to the
// ceiling; a server's `retry:` field replaces the first wait, as EventSource would use it.
const RECONNECT_MS = 500;
const RECONNECT_MAX_MS = 5000;
// Streams that end this many times in a row without an event (a proxy that buffers or cuts
// them) give way to polling.
const MAX_EMPTY_STREAMS = 3;
const KEY_STORAGE = "imagepipe.apiKey";

const $ = (selector, root = document) => root.querySelector(selector);
const dropZone = $("#drop-zone");
const fileInput = $("#file-input");
const taskList = $("#task-list");
const listMessage = $("#list-message");
const announcer = $("#announcer");
const template = $("#task-template");
const chainSelect = $("#chain-select");
const stepsField = $("#steps-field");
const stepsInput = $("#steps-input");
const keyForm = $("#key-form");
const keyInput = $("#api-key");
const keyMessage = $("#key-message");

/** task id -> entry; an entry is {id, el, view, following, uploaded}. */
const entries = new Map();
let openStreams = 0;

class ApiError extends Error {
  constructor(status, problem) {
    // Problem documents (RFC 9457) say what went wrong in `detail`, meant for people.
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem?.code;
    // A refused chain of steps says where each problem is: [{pointer, detail}].
    this.errors = Array.isArray(problem?.errors) ? problem.errors : [];
  }
}

// ---- the API key -------------------------------------------------------------------------

// Session storage, not local: the key goes when the tab closes. A browser that refuses
// storage (a privacy setting) still gets the key for as long as the page is open.
let apiKey = "";
try {
  apiKey = sessionStorage.getItem(KEY_STORAGE) ?? "";
} catch {
  // Storage refused: keep the key in memory only.
}
keyInput.value = apiKey;

function setKey(key) {
  apiKey = key;
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage refused: the key lasts until the page is left.
  }
}

/** The headers every API call carries: the key goes in a header, never in a URL. */
function apiHeaders(accept) {
  const headers = { Accept: accept };
  if (apiKey) headers["X-API-Key"] = apiKey;
  return headers;
}

/**
 * A 401: say what is missing and put the keyboard where it can be given. Requests refused
 * together (the list, the presets) ask once; a key refused after it was entered asks again.
 */
function askForKey() {
  if (!keyMessage.hidden) return;
  keyMessage.textContent = apiKey
    ? "This API key was not accepted. Check it and enter it again."
    : "This server needs an API key. Enter yours to see and upload tasks.";
  keyMessage.hidden = false;
  keyInput.focus();
  announce(keyMessage.textContent);
}

keyForm.addEventListener("submit", (event) => {
  event.preventDefault();
  setKey(keyInput.value.trim());
  keyMessage.hidden = true;
  keyMessage.textContent = "";
  announce(apiKey ? "API key set." : "API key forgotten.");
  refresh();
});

async function api(path, init = {}) {
  let response;
  try {
    response = await fetch(API + path, { ...init, headers: apiHeaders("application/json") });
  } catch {
    throw new ApiError(0, { detail: "The server cannot be reached." });
  }
  const body = await response.json().catch(() => null);
  if (response.status === 401) askForKey();
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

// ---- formatting -------------------------------------------------------------------------

function duration(from, to) {
  if (!from || !to) return "—";
  const ms = Math.max(0, Date.parse(to) - Date.parse(from));
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

const label = (status) => status.charAt(0) + status.slice(1).toLowerCase();

/** `image/webp` → `WEBP`. */
const formatName = (contentType) => (contentType || "").replace(/^image\//, "").toUpperCase();

/** What a task runs, short: its preset's name, or its ops in order. */
function chainSummary(view) {
  if (!Array.isArray(view.steps)) return "—";
  const ops = view.steps.map((step) => step.op).join(" → ");
  return view.preset ? `${view.preset} (${ops})` : ops;
}

/** The result's size, format and bytes, once there is one. */
function resultSummary(result) {
  if (!result || result.width == null) return "—";
  return `${result.width} × ${result.height}, ${formatName(result.content_type)}, ${bytes(result.size_bytes)}`;
}

function announce(text) {
  // Clearing first makes a repeated sentence be read again.
  announcer.textContent = "";
  requestAnimationFrame(() => { announcer.textContent = text; });
}

// ---- rendering --------------------------------------------------------------------------

function createEntry(name) {
  const el = template.content.firstElementChild.cloneNode(true);
  $(".task-name", el).textContent = name;
  // Tasks uploaded here have every change read out; tasks already listed only later ones.
  const entry = { id: null, el, view: null, following: false, uploaded: false };
  $('[data-action="cancel"]', el).addEventListener("click", () => act(entry, "cancel"));
  $('[data-action="retry"]', el).addEventListener("click", () => act(entry, "retry"));
  listMessage.hidden = true;
  return entry;
}

function setField(el, field, text) {
  $(`[data-field="${field}"]`, el).textContent = text;
}

function setBadge(el, status, text = label(status)) {
  el.dataset.status = status;
  const badge = $('[data-field="status"]', el);
  badge.textContent = text;
  badge.className = `badge badge--${status.toLowerCase()}`;
}

function setImage(el, role, url, alt, size) {
  const figure = $(`[data-slot="${role}"]`, el);
  const img = $(`img[data-role="${role}"]`, el);
  figure.hidden = !url;
  if (!url) return;
  // Presigned URLs differ on every read; reloading the same object would only flicker.
  if (img.dataset.key === url.split("?")[0]) return;
  img.dataset.key = url.split("?")[0];
  img.alt = alt;
  // The image's own size reserves the space before the bytes arrive.
  img.width = size.width;
  img.height = size.height;
  img.src = url;
}

/** Show a task as the server sees it; returns whether its status changed. */
function render(entry, view) {
  // An answer that left the server before the one already shown is stale: ignore it.
  const shown = entry.view;
  if (shown && (view.run < shown.run ||
      (view.run === shown.run && Date.parse(view.updated_at) < Date.parse(shown.updated_at)))) {
    return false;
  }
  const changed = shown?.status !== view.status;
  entry.view = view;
  const { el } = entry;
  const name = view.original_filename || view.task_id;

  el.dataset.taskId = view.task_id;
  $(".task-name", el).textContent = name;
  $(".task-id", el).textContent = `id ${view.task_id}`;
  setBadge(el, view.status);
  setField(el, "image", `${view.width} × ${view.height}, ${bytes(view.size_bytes)}`);
  setField(el, "steps", chainSummary(view));
  setField(el, "result", view.status === "COMPLETED" ? resultSummary(view.result) : "—");
  setField(el, "attempts", String(view.attempts) + (view.run > 0 ? ` (retry ${view.run})` : ""));
  // Counted from the upload, for a retried run too: the task keeps no time of its requeue.
  setField(el, "queued", duration(view.created_at, view.started_at));
  setField(el, "processing", duration(view.started_at, view.completed_at));
  setField(el, "total", duration(view.created_at, view.completed_at));

  const error = $('[data-field="error"]', el);
  error.hidden = !view.error;
  if (view.error) error.textContent = `${view.error.message} (${view.error.code})`;

  setImage(el, "original", view.original?.download_url, `${name}, original`, view);
  // A chain may change the size: the result's own, when the task says it.
  const resultSize = view.result?.width != null ? view.result : view;
  setImage(el, "result", view.status === "COMPLETED" ? view.result?.download_url : null,
    `${name}, processed`, resultSize);

  const cancel = $('[data-action="cancel"]', el);
  const retry = $('[data-action="retry"]', el);
  cancel.hidden = TERMINAL.has(view.status);
  retry.hidden = view.status !== "FAILED";
  cancel.setAttribute("aria-label", `Cancel ${name}`);
  retry.setAttribute("aria-label", `Retry ${name}`);
  return changed;
}

function update(entry, view) {
  const wasShown = entry.view !== null;
  if (render(entry, view) && (wasShown || entry.uploaded)) {
    const reason = view.error ? `: ${view.error.message}` : "";
    announce(`${view.original_filename || "Task"}: ${label(view.status)}${reason}`);
  }
}

// ---- following tasks --------------------------------------------------------------------

function follow(entry) {
  if (entry.following || entry.id === null || TERMINAL.has(entry.view?.status)) return;
  entry.following = true;
  const run = openStreams < MAX_STREAMS ? stream(entry) : poll(entry);
  run.finally(() => { entry.following = false; });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Follow a task's event stream with `fetch` rather than EventSource, which cannot send the
 * key in a header. Like EventSource, a dropped stream is opened again, with Last-Event-ID
 * when the server gave ids, after a wait that grows while drops repeat; it stops at a
 * terminal status. Each stream starts with the task as it is, so a reconnection misses
 * nothing even without ids.
 */
async function stream(entry) {
  openStreams += 1;
  const state = { lastId: "", retryMs: RECONNECT_MS, events: 0 };
  let drops = 0;
  let empty = 0;
  let fallBack = false;
  try {
    while (!TERMINAL.has(entry.view?.status)) {
      const headers = apiHeaders("text/event-stream");
      if (state.lastId) headers["Last-Event-ID"] = state.lastId;
      let response = null;
      try {
        response = await fetch(`${API}/tasks/${entry.id}/events`, { headers, cache: "no-store" });
      } catch {
        // Not reachable: wait and try again, as after a drop.
      }
      // A refusal's problem document is not needed: free its connection.
      if (response && !response.ok) response.body?.cancel().catch(() => {});
      if (response?.status === 401) {
        askForKey();
        return;
      }
      if (response?.status === 404 || response?.status === 410) {
        setBadge(entry.el, "GONE", "Gone");
        return;
      }
      state.events = 0;
      if (response?.ok && response.body) {
        try {
          await readEvents(response.body, state, (event) => {
            if (event.type === "status") update(entry, JSON.parse(event.data));
          });
        } catch {
          // Cut mid-stream (or a garbled event): the task is read again on reconnecting.
        }
      }
      if (TERMINAL.has(entry.view?.status)) return;
      const events = state.events;
      empty = events > 0 ? 0 : empty + 1;
      if (empty >= MAX_EMPTY_STREAMS) {
        fallBack = true;
        return;
      }
      drops = events > 0 ? 1 : drops + 1;
      await sleep(Math.min(state.retryMs * 2 ** (drops - 1), RECONNECT_MAX_MS));
    }
  } finally {
    openStreams -= 1;
    // Outside the stream's slot, so the poll does not count as one.
    if (fallBack) await poll(entry);
  }
}

/**
 * Read a `text/event-stream` body (the HTML standard's format) and call `onEvent` with each
 * event as {type, data, id}, until the body ends. `state` keeps the last event id and the
 * server's retry time across reconnections, and counts the events. If `onEvent` throws, the
 * body is cancelled (its connection freed) and the error passed on.
 */
async function readEvents(body, state, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    await readLines(reader, state, onEvent);
  } catch (err) {
    reader.cancel().catch(() => {});
    throw err;
  }
}

async function readLines(reader, state, onEvent) {
  let buffer = "";
  let data = [];
  let type = "";
  const dispatch = () => {
    // An event with no data line is not dispatched; its type is forgotten all the same.
    if (data.length > 0) {
      state.events += 1;
      onEvent({ type: type || "message", data: data.join("\n"), id: state.lastId });
    }
    data = [];
    type = "";
  };
  const line = (text) => {
    if (text === "") return dispatch();
    if (text.startsWith(":")) return; // a comment: the server's keep-alive
    const colon = text.indexOf(":");
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") data.push(value);
    else if (field === "event") type = value;
    else if (field === "id" && !value.includes("\0")) state.lastId = value;
    else if (field === "retry" && /^\d+$/.test(value)) state.retryMs = Number(value);
  };
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += value;
    // Lines end with CRLF, LF or CR. A CR last in the buffer may be half of a CRLF split
    // across chunks, so it waits for the next chunk.
    let match;
    const ending = /\r\n|\n|\r(?!$)/g;
    let from = 0;
    while ((match = ending.exec(buffer)) !== null) {
      line(buffer.slice(from, match.index));
      from = match.index + match[0].length;
    }
    buffer = buffer.slice(from);
  }
  // A stream ending in a lone CR ended its last line; an event not closed by a blank line
  // is dropped, as the standard says.
  if (buffer.endsWith("\r")) line(buffer.slice(0, -1));
}

async function poll(entry) {
  let wait = POLL_MS;
  while (!TERMINAL.has(entry.view?.status)) {
    await sleep(wait);
    try {
      update(entry, await api(`/tasks/${entry.id}`));
      wait = POLL_MS;
    } catch (err) {
      if (err.status === 401) break; // asked for a key; following resumes once it is given
      if (err.status === 404 || err.status === 410) {
        setBadge(entry.el, "GONE", "Gone");
        break;
      }
      wait = Math.min(wait * 2, POLL_MAX_MS); // the server is struggling: ask less often
    }
  }
}

async function act(entry, action) {
  const button = $(`[data-action="${action}"]`, entry.el);
  button.disabled = true;
  try {
    const answer = await api(`/tasks/${entry.id}/${action}`, { method: "POST" });
    // Cancel answers with the task; retry only with its id, so read the task again.
    update(entry, action === "cancel" ? answer : await api(`/tasks/${entry.id}`));
    follow(entry);
  } catch (err) {
    announce(`${action === "cancel" ? "Cancel" : "Retry"} failed: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

// ---- uploading --------------------------------------------------------------------------

function queued(file) {
  const entry = createEntry(file.name);
  entry.uploaded = true;
  entry.chain = chainSelect.value;
  entry.steps = stepsInput.value;
  setBadge(entry.el, "QUEUED", "Waiting to upload");
  setField(entry.el, "image", bytes(file.size));
  taskList.prepend(entry.el);
  return entry;
}

async function upload(entry, file) {
  setBadge(entry.el, "UPLOADING", "Uploading");
  const form = new FormData();
  form.append("file", file, file.name);
  // The chain chosen when the file was picked: a preset by name, or the steps as typed
  // (the server checks them and says where a problem is).
  if (entry.chain.startsWith("preset:")) form.append("preset", entry.chain.slice("preset:".length));
  else if (entry.chain === "steps") form.append("steps", entry.steps);
  try {
    const accepted = await api("/analyze", { method: "POST", body: form });
    entry.id = accepted.task_id;
    entries.set(entry.id, entry);
    entry.el.dataset.taskId = entry.id;
    setBadge(entry.el, "PENDING");
    follow(entry);
  } catch (err) {
    setBadge(entry.el, "REJECTED", "Rejected");
    const error = $('[data-field="error"]', entry.el);
    error.hidden = false;
    const where = err.errors.map((e) => `${e.pointer}: ${e.detail}`).join("; ");
    error.textContent = (err.code ? `${err.message} (${err.code})` : err.message) +
      (where && !err.message.includes(where) ? ` — ${where}` : "");
    announce(`${file.name} was not accepted: ${err.message}`);
  }
}

async function uploadAll(files) {
  // Every file shows in the list at once; they are sent one at a time, so a large batch
  // neither takes all the browser's connections nor floods the server.
  const batch = [...files].map((file) => [queued(file), file]);
  for (const [entry, file] of batch) await upload(entry, file);
}

chainSelect.addEventListener("change", () => {
  stepsField.hidden = chainSelect.value !== "steps";
});

$("#pick-button").addEventListener("click", () => fileInput.click());
fileInput.addEventListener("change", () => {
  const files = [...fileInput.files];
  fileInput.value = ""; // so choosing the same file again fires change again
  uploadAll(files);
});

// A file dropped next to the zone would make the browser leave the page to show it.
for (const type of ["dragover", "drop"]) {
  window.addEventListener(type, (event) => event.preventDefault());
}
dropZone.addEventListener("dragenter", () => dropZone.classList.add("is-dragover"));
dropZone.addEventListener("dragover", (event) => {
  event.dataTransfer.dropEffect = "copy";
  dropZone.classList.add("is-dragover");
});
dropZone.addEventListener("dragleave", (event) => {
  if (!dropZone.contains(event.relatedTarget)) dropZone.classList.remove("is-dragover");
});
dropZone.addEventListener("drop", (event) => {
  dropZone.classList.remove("is-dragover");
  if (event.dataTransfer.files.length > 0) uploadAll(event.dataTransfer.files);
});

// ---- recent tasks -----------------------------------------------------------------------

async function loadRecent() {
  try {
    const page = await api("/tasks?limit=20");
    for (const view of page.tasks) {
      if (entries.has(view.task_id)) continue; // uploaded from this page meanwhile
      const entry = createEntry(view.original_filename || view.task_id);
      entry.id = view.task_id;
      entries.set(entry.id, entry);
      render(entry, view);
      taskList.append(entry.el); // newest first, after anything uploaded meanwhile
      follow(entry);
    }
    listMessage.textContent = "No tasks yet: upload an image to start.";
    listMessage.hidden = entries.size > 0;
  } catch (err) {
    listMessage.textContent = err.status === 401
      ? "Enter the API key above to see your tasks."
      : `Recent tasks could not be loaded: ${err.message}`;
    listMessage.hidden = false;
  }
}

// ---- presets ---------------------------------------------------------------------------

/**
 * Offer the server's presets (the operator's PRESETS_FILE included) in place of the built-in
 * ones the page lists before it knows them; `grayscale` is the default entry already. If the
 * list cannot be read, the built-in entries stay.
 */
async function loadPresets() {
  try {
    const { presets } = await api("/presets");
    const chosen = chainSelect.value;
    for (const option of [...chainSelect.options]) {
      if (option.value.startsWith("preset:")) option.remove();
    }
    const custom = chainSelect.querySelector('option[value="steps"]');
    for (const preset of presets) {
      if (preset.name === "grayscale") continue;
      const option = document.createElement("option");
      option.value = `preset:${preset.name}`;
      option.textContent = `Preset: ${preset.name} (${preset.steps.map((s) => s.op).join(" → ")})`;
      chainSelect.insertBefore(option, custom);
    }
    if ([...chainSelect.options].some((o) => o.value === chosen)) chainSelect.value = chosen;
  } catch {
    // Keep the built-in entries.
  }
}

/** Read what depends on the key: the presets, the recent tasks, and follow what is open. */
function refresh() {
  loadPresets();
  loadRecent();
  for (const entry of entries.values()) follow(entry);
}

refresh();
