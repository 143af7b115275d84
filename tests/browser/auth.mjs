// The web page on a server with API keys, in headless Chromium: without a key the page says
// it needs one and puts the keyboard in the key field; a wrong key is refused the same way;
// with API_KEY typed in, the page offers the server's presets, uploads IMAGE with the
// `thumbnail` preset and follows the task to COMPLETED through its event stream, the first
// connection of which is cut so the page must reconnect; after a reload the key is still there (session storage) and the task is listed. Every API request
// must carry the key in force in X-API-Key, the event streams must be read with fetch, and
// no key may appear in any URL or go to the object store.
//
//   BASE_URL=http://127.0.0.1:8080 API_KEY=secret IMAGE=photo.jpg SCREENSHOT=page.png node auth.mjs
//
// Exits 0 when all of that held; otherwise prints what the page showed and exits 1.

import { basename } from "node:path";
import {
  checkAccessibility, checkRequests, env, expectResult, fileEnv, session, waitForCompletion,
  waitForServerPresets,
} from "./lib.mjs";

const baseUrl = env("BASE_URL");
const key = env("API_KEY");
const image = fileEnv("IMAGE");
const WRONG_KEY = "not-a-key-of-this-server";
const STORAGE_NAME = "imagepipe.apiKey";

/** The page asks for a key (saying `wording`), with the keyboard in the key field. */
async function expectAskedForKey(page, wording) {
  await page.waitForFunction(
    (text) => {
      const message = document.querySelector("#key-message");
      return !message.hidden && message.textContent.includes(text) &&
        document.activeElement?.id === "api-key";
    },
    wording,
    { timeout: 10_000 },
  );
  return page.locator("#key-message").innerText();
}

/** Types a key into the focused field and submits it with Enter, as a keyboard user would. */
async function enterKey(page, keys, value) {
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.type(value);
  keys.push({ since: Date.now(), key: value });
  await page.keyboard.press("Enter");
}

async function expectNotAsked(page) {
  if (await page.locator("#key-message").isVisible()) {
    throw new Error(`the page still asks for a key: ${await page.locator("#key-message").innerText()}`);
  }
}

await session(env("SCREENSHOT"), async ({ page, note, requests }) => {
  const keys = [];
  const response = await page.goto(baseUrl, { waitUntil: "load" });
  if (!response?.ok()) throw new Error(`GET ${baseUrl} answered ${response?.status()}`);
  await checkAccessibility(page, note);

  console.log(`without a key: "${await expectAskedForKey(page, "needs an API key")}"`);
  const list = await page.locator("#list-message").innerText();
  if (!list.includes("API key")) throw new Error(`the task list does not say it needs a key: "${list}"`);

  await enterKey(page, keys, WRONG_KEY);
  console.log(`a wrong key: "${await expectAskedForKey(page, "not accepted")}"`);

  await enterKey(page, keys, key);
  // The presets come from the API, so they show only once the key is accepted.
  await waitForServerPresets(page);
  await expectNotAsked(page);
  await page.getByLabel("Processing").selectOption("preset:thumbnail");
  // The first event stream is cut before it answers, as a restarted server or a flaky network
  // would: the page must open it again by itself, with the key.
  const EVENTS = "**/api/v1/tasks/*/events";
  let cut = null;
  await page.route(EVENTS, async (route) => {
    if (cut !== null) return route.continue();
    cut = route.request().url();
    note(`cutting ${cut}`);
    await route.abort("connectionreset");
    await page.unroute(EVENTS);
  });
  await page.getByLabel("Images to upload").setInputFiles(image);
  note(`chose ${image}`);
  const final = await waitForCompletion(page, note, basename(image));
  console.log(`task ${final.id}: ${final.statuses.join(" → ")}`);
  const streams = requests.filter((r) => r.url.endsWith(`/tasks/${final.id}/events`));
  if (cut === null || streams.length < 2) {
    throw new Error(`the cut stream was not opened again (${streams.length} events requests)`);
  }
  console.log(`reconnected after a cut stream: ${streams.length} events requests`);
  expectResult(final, 256, 256, "JPEG", "thumbnail");

  const stored = await page.evaluate((name) => ({
    session: sessionStorage.getItem(name),
    local: localStorage.length,
  }), STORAGE_NAME);
  if (stored.session !== key) throw new Error(`session storage holds ${JSON.stringify(stored.session)}`);
  // Local storage would outlive the tab.
  if (stored.local !== 0) throw new Error(`local storage holds ${stored.local} items`);

  // Same tab, reloaded: no key typed, the list shows the task.
  await page.reload({ waitUntil: "load" });
  const listed = await waitForCompletion(page, note, basename(image), { announced: false });
  if (listed.id !== final.id) throw new Error(`listed ${listed.id}, not ${final.id}`);
  await expectNotAsked(page);
  const field = await page.getByLabel("API key", { exact: true }).inputValue();
  if (field !== key) throw new Error("the key field is not filled after a reload");
  console.log(`after a reload: task ${listed.id} listed ${listed.status}`);

  for (const line of await checkRequests(requests, { baseUrl, taskIds: [final.id], keys })) {
    console.log(line);
  }
});
