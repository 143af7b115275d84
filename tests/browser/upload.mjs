// Uploads images through ingest's web page in headless Chromium, the way a person would,
// and waits until the page shows them processed: IMAGE with the `thumbnail` preset picked
// from the page's list, then STEPS_IMAGE with steps typed into it; each result's size and
// format must show on the page.
//
//   BASE_URL=http://127.0.0.1:8080 IMAGE=photo.jpg STEPS_IMAGE=other.png SCREENSHOT=page.png node upload.mjs
//
// Uses Debian's Chromium (/usr/bin/chromium; `apt-get install -y chromium`): Playwright's
// own browser downloads cannot be fetched here. Exits 0 when the task is COMPLETED and both
// images have loaded; otherwise prints what the page showed and exits 1.

import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { chromium } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
const DEADLINE_MS = 60_000;
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

function env(name) {
  const value = process.env[name];
  if (!value) fail(`${name} is not set (BASE_URL, IMAGE and SCREENSHOT are required)`);
  return value;
}

function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

const baseUrl = env("BASE_URL");
const image = resolve(env("IMAGE"));
const screenshot = resolve(env("SCREENSHOT"));
const stepsImage = resolve(env("STEPS_IMAGE"));
if (!existsSync(image)) fail(`IMAGE ${image} does not exist`);
if (!existsSync(stepsImage)) fail(`STEPS_IMAGE ${stepsImage} does not exist`);
// A chain typed by hand: 120 px wide, then WebP.
const STEPS = '[{"op": "resize", "width": 120}, {"op": "encode", "format": "webp"}]';
if (!existsSync(CHROMIUM)) fail(`${CHROMIUM} is missing: apt-get install -y chromium`);
const fileName = basename(image);

// What the page said and did, printed if the test fails.
const seen = [];
const note = (line) => seen.push(`${new Date().toISOString()} ${line}`);

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
  // A file-chooser listener makes Playwright intercept the native picker, but it turns that
  // on without waiting for the browser: added only just before the key press, the press can
  // win the race under load and the picker opens unseen. Adding one now settles it early.
  page.on("filechooser", () => note("file chooser opened"));
  page.on("console", (message) => note(`console.${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => note(`page error: ${error.message}`));
  page.on("requestfailed", (request) =>
    note(`request failed: ${request.method()} ${request.url()} ${request.failure()?.errorText}`));
  page.on("response", (response) => {
    if (response.status() >= 400) note(`HTTP ${response.status()} ${response.url()}`);
  });

  const response = await page.goto(baseUrl, { waitUntil: "load" });
  if (!response?.ok()) throw new Error(`GET ${baseUrl} answered ${response?.status()}`);

  await checkAccessibility(page);

  // The list offers the server's presets (GET /api/v1/presets), each with its ops.
  await page.waitForFunction(
    () => [...document.querySelectorAll("#chain-select option")]
      .some((o) => o.textContent.includes("thumbnail (resize → encode)")),
    null,
    { timeout: 10_000 },
  );
  // The chain is chosen first, by its label, as a screen reader names the list.
  await page.getByLabel("Processing").selectOption("preset:thumbnail");

  // The way in for keyboard users: focus the button, press Enter, get the file picker.
  const button = page.getByRole("button", { name: "Choose images…" });
  await button.focus();
  const [chooser] = await Promise.all([
    page.waitForEvent("filechooser", { timeout: 10_000 }),
    page.keyboard.press("Enter"),
  ]);
  if (!chooser.isMultiple()) throw new Error("the file picker does not allow several files");
  await chooser.setFiles(image);
  note(`chose ${image}`);

  const final = await waitForCompletion(page, fileName);
  console.log(`task ${final.id}: ${final.statuses.join(" → ")}`);
  console.log(`original ${final.original.width}×${final.original.height}, ` +
    `result ${final.result.width}×${final.result.height}`);
  console.log(`announced: "${final.announced}"`);
  expectResult(final, 256, 256, "JPEG", "thumbnail");

  // Own steps: pick "Custom steps…", type the chain, choose the second image.
  await page.getByLabel("Processing").selectOption("steps");
  const steps = page.getByLabel("Steps (JSON array, one object per step)");
  await steps.fill(STEPS);
  await page.getByLabel("Images to upload").setInputFiles(stepsImage);
  note(`chose ${stepsImage} with steps ${STEPS}`);
  const custom = await waitForCompletion(page, basename(stepsImage));
  console.log(`task ${custom.id}: ${custom.statuses.join(" → ")}`);
  console.log(`result ${custom.result.width}×${custom.result.height}`);
  if (custom.result.width !== 120) throw new Error(`the steps' result is ${custom.result.width} px wide, not 120`);
  expectResult(custom, 120, custom.result.height, "WEBP", "resize → encode");
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

/** The controls have names a screen reader can say, and status changes have a live region. */
async function checkAccessibility(page) {
  const facts = await page.evaluate(() => {
    const input = document.querySelector('input[type="file"]');
    const live = document.querySelector('[aria-live="polite"], [role="status"]');
    return {
      inputLabels: input ? [...input.labels].map((label) => label.textContent.trim()) : null,
      multiple: input?.multiple,
      accept: input?.accept,
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
  if (!facts.live) throw new Error("no aria-live region for status changes");
  if (!facts.lang || !facts.title) throw new Error("the page needs a lang and a title");

  // getByLabel finds controls the way assistive technology names them.
  const labelled = await page.getByLabel("Images to upload").count();
  if (labelled !== 1) throw new Error(`"Images to upload" labels ${labelled} controls, not 1`);
  const button = page.getByRole("button", { name: "Choose images…" });
  if ((await button.count()) !== 1) throw new Error('no button named "Choose images…"');
}

/** The entry shows the result's size and format, and the chain it ran. */
function expectResult(state, width, height, format, chain) {
  const facts = state.text;
  for (const expected of [`${width} × ${height}, ${format}`, chain]) {
    if (!facts.includes(expected)) throw new Error(`the entry does not show "${expected}": ${facts}`);
  }
  if (state.result.width !== width || state.result.height !== height) {
    throw new Error(`the result image is ${state.result.width}×${state.result.height}, not ${width}×${height}`);
  }
}

/** Waits until the entry of the file `fileName` is COMPLETED and both its images have loaded. */
async function waitForCompletion(page, fileName) {
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
      state.announced.includes(`${fileName}: Completed`);
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
