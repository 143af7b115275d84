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

async function api(path, init = {}) {
  let response;
  try {
    response = await fetch(API + path, { ...init, headers: { Accept: "application/json" } });
  } catch {
    throw new ApiError(0, { detail: "The server cannot be reached." });
  }
  const body = await response.json().catch(() => null);
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
  if (entry.following || TERMINAL.has(entry.view?.status)) return;
  entry.following = true;
  if (openStreams < MAX_STREAMS && "EventSource" in window) stream(entry);
  else poll(entry);
}

function stream(entry) {
  openStreams += 1;
  const source = new EventSource(`${API}/tasks/${entry.id}/events`);
  let open = true;
  const close = () => {
    if (!open) return;
    open = false;
    source.close();
    openStreams -= 1;
  };
  source.addEventListener("status", (event) => {
    update(entry, JSON.parse(event.data));
    if (TERMINAL.has(entry.view.status)) {
      close();
      entry.following = false;
    }
  });
  // EventSource would reconnect by itself; polling is simpler to reason about and also
  // covers a proxy that buffers or cuts event streams.
  source.addEventListener("error", () => {
    if (!open) return;
    close();
    poll(entry);
  });
}

async function poll(entry) {
  let wait = POLL_MS;
  while (!TERMINAL.has(entry.view?.status)) {
    await new Promise((resolve) => setTimeout(resolve, wait));
    try {
      update(entry, await api(`/tasks/${entry.id}`));
      wait = POLL_MS;
    } catch (err) {
      if (err.status === 404 || err.status === 410) {
        setBadge(entry.el, "GONE", "Gone");
        break;
      }
      wait = Math.min(wait * 2, POLL_MAX_MS); // the server is struggling: ask less often
    }
  }
  entry.following = false;
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
    if (entries.size === 0) listMessage.textContent = "No tasks yet: upload an image to start.";
  } catch (err) {
    listMessage.textContent = `Recent tasks could not be loaded: ${err.message}`;
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

loadPresets();
loadRecent();
