// A user's flow through the TypeScript client generated from the served OpenAPI document
// (@hey-api/openapi-ts and its fetch client, openapi-ts.config.mjs), used as generated and
// checked against its types by tsc. Run by tests/tests/clients.rs against the real system,
// the Python flow's twin (tests/clients/python/flow.py).
//
//     node flow.js BASE_URL API_KEY IMAGE
//
// Prints one JSON object for the Rust side: the result's digest and the task ids seen.

import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";

import { client } from "./gen/client.gen.js";
import { analyze, cancelTask, downloadResult, getTask, listTasks } from "./gen/sdk.gen.js";
import type { Problem, Step, TaskView } from "./gen/types.gen.js";

const DEADLINE_MS = 60_000;

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(what);
}

const [baseUrl, apiKey, imagePath] = process.argv.slice(2);
client.setConfig({ baseUrl, auth: () => apiKey });
const image = new Blob([readFileSync(imagePath)], { type: "image/jpeg" });
const steps: Step[] = [
  { op: "resize", width: 64 },
  { op: "grayscale" },
];

async function upload(file: Blob, chain?: Step[], key?: string) {
  return analyze({
    body: { file, steps: chain },
    headers: key === undefined ? undefined : { "Idempotency-Key": key },
  });
}

async function accepted(file: Blob, chain?: Step[], key?: string): Promise<string> {
  const { data, error, response } = await upload(file, chain, key);
  check(response.status === 202 && data !== undefined, `upload: ${response.status} ${JSON.stringify(error)}`);
  return data.task_id;
}

async function completed(id: string): Promise<TaskView> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const { data: task } = await getTask({ path: { task_id: id } });
    check(task !== undefined, `get_task ${id}`);
    if (["COMPLETED", "FAILED", "CANCELLED"].includes(task.status)) {
      check(task.status === "COMPLETED", `${id}: ${JSON.stringify(task)}`);
      return task;
    }
    check(Date.now() < deadline, `${id} not done in ${DEADLINE_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// Upload with an Idempotency-Key; the same request again answers the same task.
const key = `typescript-flow-${randomUUID()}`;
const first = await accepted(image, steps, key);
check((await accepted(image, steps, key)) === first, "replay answers the same task");

// Poll to COMPLETED, then download the result through the API.
const task = await completed(first);
check(task.result !== undefined && task.error === undefined, JSON.stringify(task));
check(task.result.width === 64, `result width ${task.result.width}`);
const download = await downloadResult({ path: { task_id: first }, parseAs: "blob" });
check(download.response.status === 200, `download: ${download.response.status}`);
check(download.response.headers.get("content-type") === task.result.content_type, "content type");
const resultBytes = Buffer.from(await (download.data as Blob).arrayBuffer());
check(resultBytes.length === task.result.size_bytes, `${resultBytes.length} bytes`);

// Two more, then the COMPLETED ones two to a page: every one once.
const others = [await accepted(image, steps), await accepted(image, steps)];
for (const id of others) await completed(id);
const listed: string[] = [];
let cursor: string | undefined;
let pages = 0;
do {
  const { data: page } = await listTasks({ query: { status: "COMPLETED", limit: 2, cursor } });
  check(page !== undefined, "list_tasks");
  pages += 1;
  check(page.tasks.every((t) => t.status === "COMPLETED"), "only COMPLETED");
  listed.push(...page.tasks.map((t) => t.task_id));
  cursor = page.next_cursor;
} while (cursor !== undefined);
check(pages === 2, `${pages} pages`);
check([first, ...others].every((id) => listed.includes(id)) && listed.length === 3, `${listed}`);

// Cancel a task that waits: it is CANCELLED.
const waiting = await accepted(image, [{ op: "delay", ms: 60_000 }]);
const { data: cancelled } = await cancelTask({ path: { task_id: waiting } });
check(cancelled?.status === "CANCELLED", `cancel: ${JSON.stringify(cancelled)}`);

// Typed problems: 404 for an unknown id, 422 for an empty file.
const missing = await getTask({ path: { task_id: randomUUID() } });
const notFound: Problem | undefined = missing.error;
check(missing.response.status === 404 && notFound?.code === "task_not_found", JSON.stringify(notFound));
const empty = await upload(new Blob([]));
const refused: Problem | undefined = empty.error;
check(empty.response.status === 422 && refused?.code === "empty_file", JSON.stringify(refused));

console.log(
  JSON.stringify({
    task_id: first,
    result_sha256: createHash("sha256").update(resultBytes).digest("hex"),
    listed,
    cancelled: waiting,
  }),
);
