// Uploads images through ingest's web page in headless Chromium, the way a person would, on
// a server without API keys, and waits until the page shows them processed: IMAGE with the
// `thumbnail` preset picked from the page's list, then STEPS_IMAGE with steps typed into it;
// each result's size and format must show on the page. Each task must have been followed
// through its event stream with fetch, and no request may carry an API key.
//
//   BASE_URL=http://127.0.0.1:8080 IMAGE=photo.jpg STEPS_IMAGE=other.png SCREENSHOT=page.png node upload.mjs
//
// Exits 0 when both tasks are COMPLETED and their images have loaded; otherwise prints what
// the page showed and exits 1.

import { basename } from "node:path";
import {
  checkAccessibility, checkRequests, env, expectResult, fileEnv, session, waitForCompletion,
  waitForServerPresets,
} from "./lib.mjs";

const baseUrl = env("BASE_URL");
const image = fileEnv("IMAGE");
const stepsImage = fileEnv("STEPS_IMAGE");
// A chain typed by hand: 120 px wide, then WebP.
const STEPS = '[{"op": "resize", "width": 120}, {"op": "encode", "format": "webp"}]';

await session(env("SCREENSHOT"), async ({ page, note, requests }) => {
  const response = await page.goto(baseUrl, { waitUntil: "load" });
  if (!response?.ok()) throw new Error(`GET ${baseUrl} answered ${response?.status()}`);

  await checkAccessibility(page, note);

  // The list offers the server's presets (GET /api/v1/presets), each with its ops.
  await waitForServerPresets(page);
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

  const final = await waitForCompletion(page, note, basename(image));
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
  const custom = await waitForCompletion(page, note, basename(stepsImage));
  console.log(`task ${custom.id}: ${custom.statuses.join(" → ")}`);
  console.log(`result ${custom.result.width}×${custom.result.height}`);
  if (custom.result.width !== 120) throw new Error(`the steps' result is ${custom.result.width} px wide, not 120`);
  expectResult(custom, 120, custom.result.height, "WEBP", "resize → encode");

  // A server without keys never asks for one.
  const asked = await page.locator("#key-message").isVisible();
  if (asked) throw new Error("the page asked for an API key on a server without keys");
  for (const line of await checkRequests(requests, { baseUrl, taskIds: [final.id, custom.id] })) {
    console.log(line);
  }
});
