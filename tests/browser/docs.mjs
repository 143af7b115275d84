// Swagger UI at /docs, in headless Chromium: it renders every operation of the served
// OpenAPI document and reports nothing wrong with it (its errors panel stays away, and the
// page logs no error or warning).
//
//   BASE_URL=http://127.0.0.1:8080 OPERATIONS=10 SCREENSHOT=docs.png node docs.mjs
//
// Exits 0 when all of that held; otherwise prints what the page did and exits 1.

import { DEADLINE_MS, env, session } from "./lib.mjs";

const baseUrl = env("BASE_URL");
const operations = Number(env("OPERATIONS"));

await session(env("SCREENSHOT"), async ({ page }) => {
  const problems = [];
  page.on("console", (message) => {
    const where = message.location().url ?? "";
    // The browser asks for /favicon.ico by itself; ingest has none (nothing of Swagger UI).
    if (where.endsWith("/favicon.ico")) return;
    if (["error", "warning"].includes(message.type())) {
      problems.push(`console.${message.type()}: ${message.text()} (${where})`);
    }
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  await page.goto(`${baseUrl}/docs`);
  await page.waitForFunction(
    (count) => document.querySelectorAll(".opblock").length >= count,
    operations,
    { timeout: DEADLINE_MS },
  );
  const shown = await page.locator(".opblock").count();
  if (shown !== operations) {
    throw new Error(`Swagger UI shows ${shown} operations; the document has ${operations}`);
  }
  // Swagger UI lists what it cannot resolve or read in the document in this panel.
  const panel = page.locator(".errors-wrapper");
  if ((await panel.count()) > 0) {
    throw new Error(`Swagger UI reports errors: ${await panel.innerText()}`);
  }
  if (problems.length > 0) throw new Error(problems.join("\n"));
  console.log(`swagger ui: ${shown} operations, no errors`);
});
