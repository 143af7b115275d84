// What upload.mjs and auth.mjs share: one headless Chromium per run, a log of what the page
// did (printed when a run fails), the requests it sent, and waits on what a person would see.
//
// Uses Debian's Chromium (/usr/bin/chromium; `apt-get install -y chromium`): Playwright's
// own browser downloads cannot be fetched here.

import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { chromium } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
export const DEADLINE_MS = 60_000;
const TERMINAL = ["COMPLETED", "FAILED", "CANCELLED", "REJECTED", "GONE"];
// Without the background-networking flags Chromium keeps calling Google's hosts, which a
// closed network refuses; --no-sandbox because tests run as root. (`headless: true` below
// adds --headless too; saying it twice is harmless.)
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function env(name) {
  const value = process.env[name];
  if (!value) fail(`${name} is not set`);
  return value;
}

/** An environment variable naming a file that must exist, as an absolute path. */
export function fileEnv(name) {
  const path = resolve(env(name));
  if (!existsSync(path)) fail(`${name} ${path} does not exist`);
  return path;
}

function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

/**
 * Runs `main({page, note, requests})` in a fresh browser profile, then saves a full-page
 * screenshot to `screenshot` and exits: 0 when `main` returned, 1 (with what the page said
 * and did, and its text) when it threw.
 */
export async function session(screenshot, main) {
  if (!existsSync(CHROMIUM)) fail(`${CHROMIUM} is missing: apt-get install -y chromium`);
  // What the page said and did, printed if the test fails.
  const seen = [];
  const note = (line) => seen.push(`${new Date().toISOString()} ${line}`);
  const requests = [];

  const userDataDir = await mkdtemp(join(tmpdir(), "imagepipe-chromium-"));
  let context;
  let page;
  let failure = null;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1100, height: 800 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    // A file-chooser listener makes Playwright intercept the native picker, but it turns
    // that on without waiting for the browser: added only just before the key press, the
    // press can win the race under load and the picker opens unseen. Adding one now
    // settles it early.
    page.on("filechooser", () => note("file chooser opened"));
    page.on("console", (message) => note(`console.${message.type()}: ${message.text()}`));
    page.on("pageerror", (error) => note(`page error: ${error.message}`));
    page.on("requestfailed", (request) =>
      note(`request failed: ${request.method()} ${request.url()} ${request.failure()?.errorText}`));
    page.on("response", (response) => {
      if (response.status() >= 400) note(`HTTP ${response.status()} ${response.url()}`);
    });
    page.on("request", (request) => {
      requests.push({
        method: request.method(),
        url: request.url(),
        type: request.resourceType(),
        at: Date.now(),
        headers: sentHeaders(request),
      });
    });
    await main({ page, note, requests });
  } catch (error) {
    failure = error;
  }

  if (page) {
    try {
      await mkdir(dirname(screenshot), { recursive: true });
      await page.screenshot({ path: screenshot, fullPage: true });
      console.log(`screenshot: ${screenshot}`);
    } catch (error) {
      failure ??= error;
    }
  }
  if (failure) {
    console.error(`FAIL: ${failure.message}`);
    console.error("--- what happened ---");
    for (const line of seen) console.error(line);
    if (page) {
      const text = await page.locator("main").innerText().catch((e) => `(unreadable: ${e.message})`);
      console.error("--- the page's text ---");
      console.error(text);
    }
  }
  await context?.close().catch(() => {});
  await rm(userDataDir, { recursive: true, force: true });
  process.exit(failure ? 1 : 0);
}

/**
 * Every header a request was sent with, custom ones included (read once the run is over).
 * A request cut before it was answered may never report them all: then the ones Playwright
 * saw when it was made.
 */
function sentHeaders(request) {
  const timeout = new Promise((resolve) => setTimeout(resolve, 2000)).then(() => request.headers());
  return Promise.race([request.allHeaders().catch(() => request.headers()), timeout]);
}

/** The controls have names a screen reader can say, and status changes have a live region. */
export async function checkAccessibility(page, note) {
  const facts = await page.evaluate(() => {
    const input = document.querySelector('input[type="file"]');
    const key = document.querySelector("#api-key");
    const live = document.querySelector('[aria-live="polite"], [role="status"]');
    return {
      inputLabels: input ? [...input.labels].map((label) => label.textContent.trim()) : null,
      multiple: input?.multiple,
      accept: input?.accept,
      keyType: key?.type,
      keyLabels: key ? [...key.labels].map((label) => label.textContent.trim()) : null,
      live: live !== null,
      lang: document.documentElement.lang,
      title: document.title,
    };
  });
  note(`page facts: ${JSON.stringify(facts)}`);
  if (!facts.inputLabels) throw new Error("no file input on the page");
  if (facts.inputLabels.length === 0 || !facts.inputLabels[0]) {
    throw new Error("the file input has no <label>");
  }
  if (!facts.multiple || facts.accept !== "image/*") {
    throw new Error(`the file input should take several images (multiple=${facts.multiple}, accept=${facts.accept})`);
  }
  // A key is typed like a password: never shown on screen.
  if (facts.keyType !== "password" || facts.keyLabels?.[0] !== "API key") {
    throw new Error(`no password field labelled "API key": ${JSON.stringify(facts)}`);
  }
  if (!facts.live) throw new Error("no aria-live region for status changes");
  if (!facts.lang || !facts.title) throw new Error("the page needs a lang and a title");

  // getByLabel finds controls the way assistive technology names them.
  for (const name of ["Images to upload", "API key"]) {
    const labelled = await page.getByLabel(name, { exact: true }).count();
    if (labelled !== 1) throw new Error(`"${name}" labels ${labelled} controls, not 1`);
  }
  for (const name of ["Choose images…", "Use key"]) {
    if ((await page.getByRole("button", { name }).count()) !== 1) {
      throw new Error(`no button named "${name}"`);
    }
  }
}

/** Waits until the preset list offers the server's `thumbnail` (GET /api/v1/presets). */
export async function waitForServerPresets(page) {
  await page.waitForFunction(
    () => [...document.querySelectorAll("#chain-select option")]
      .some((o) => o.textContent.includes("thumbnail (resize → encode)")),
    null,
    { timeout: 10_000 },
  );
}

/** The entry shows the result's size and format, and the chain it ran. */
export function expectResult(state, width, height, format, chain) {
  const facts = state.text;
  for (const expected of [`${width} × ${height}, ${format}`, chain]) {
    if (!facts.includes(expected)) throw new Error(`the entry does not show "${expected}": ${facts}`);
  }
  if (state.result.width !== width || state.result.height !== height) {
    throw new Error(`the result image is ${state.result.width}×${state.result.height}, not ${width}×${height}`);
  }
}

/**
 * Waits until the entry of the file `fileName` is COMPLETED and both its images have loaded;
 * with `announced` (a task uploaded from this page), also until the live region said so.
 */
export async function waitForCompletion(page, note, fileName, { announced = true } = {}) {
  const start = Date.now();
  const statuses = [];
  for (;;) {
    const state = await page.evaluate((name) => {
      const entry = [...document.querySelectorAll("li.task")]
        .find((li) => li.querySelector(".task-name")?.textContent === name);
      if (!entry) return null;
      const img = (role) => {
        const el = entry.querySelector(`img[data-role="${role}"]`);
        return el && {
          src: el.getAttribute("src"),
          alt: el.alt,
          loaded: el.complete && el.naturalWidth > 0,
          width: el.naturalWidth,
          height: el.naturalHeight,
          visible: el.getClientRects().length > 0,
        };
      };
      return {
        id: entry.dataset.taskId,
        status: entry.dataset.status,
        text: entry.innerText,
        original: img("original"),
        result: img("result"),
        announced: document.querySelector("#announcer")?.textContent ?? "",
      };
    }, fileName);

    if (state && statuses.at(-1) !== state.status) {
      statuses.push(state.status);
      note(`entry status ${state.status}`);
    }
    const done = state?.status === "COMPLETED" &&
      state.original?.loaded && state.original.visible &&
      state.result?.loaded && state.result.visible &&
      (!announced || state.announced.includes(`${fileName}: Completed`));
    if (done) {
      if (!state.original.alt || !state.result.alt) throw new Error("an image has no alt text");
      return { ...state, statuses };
    }
    if (state && TERMINAL.includes(state.status) && state.status !== "COMPLETED") {
      throw new Error(`the task ended ${state.status}: ${state.text}`);
    }
    if (Date.now() - start > DEADLINE_MS) {
      throw new Error(`not COMPLETED with both images loaded within ${DEADLINE_MS / 1000} s; ` +
        `last seen: ${JSON.stringify(state)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Checks how the page talked to the API, from every request it sent: each task in `taskIds`
 * was followed through its event stream with `fetch` (not EventSource, and not by polling
 * the task); each API request carried the key in force when it was sent (`keys`: the keys
 * typed, each with the time from which it applies; none before the first, or at all without
 * any) in `X-API-Key`; no request to another origin (the object store's presigned URLs)
 * carried one; and no key appears in any URL. Returns a line per events request.
 */
export async function checkRequests(requests, { baseUrl, taskIds, keys = [] }) {
  const api = new URL("/api/v1/", baseUrl).href;
  const origin = new URL(baseUrl).origin;
  const lines = [];
  for (const request of requests) {
    const headers = await request.headers;
    const sent = headers["x-api-key"];
    const what = `${request.method} ${request.url} (${request.type})`;
    const url = decodeURIComponent(request.url);
    if (keys.some(({ key }) => url.includes(key))) {
      throw new Error(`an API key appears in a URL: ${what}`);
    }
    if (!request.url.startsWith(api)) {
      if (new URL(request.url).origin !== origin && sent !== undefined) {
        throw new Error(`a request to another origin carried X-API-Key: ${what}`);
      }
      continue;
    }
    const expected = keys.filter(({ since }) => since <= request.at).at(-1)?.key;
    if (sent !== expected) {
      throw new Error(`${what} carried X-API-Key ${JSON.stringify(sent)}, not ${JSON.stringify(expected)}`);
    }
    if (/\/events$/.test(new URL(request.url).pathname)) {
      if (request.type !== "fetch") throw new Error(`the events were not read with fetch: ${what}`);
      lines.push(`events: ${what}, X-API-Key ${sent === undefined ? "absent" : "sent"}, ` +
        `Accept ${headers.accept}`);
    }
  }
  for (const id of taskIds) {
    const path = new URL(`/api/v1/tasks/${id}`, baseUrl).href;
    const followed = requests.filter((r) => r.url === `${path}/events`);
    if (followed.length === 0) throw new Error(`task ${id} was never followed through its events`);
    if (followed.some((r) => r.type === "eventsource")) throw new Error(`task ${id} used EventSource`);
    const polled = requests.filter((r) => r.url === path);
    if (polled.length > 0) {
      throw new Error(`task ${id} was polled (${polled.length} reads) instead of streamed`);
    }
  }
  return lines;
}
