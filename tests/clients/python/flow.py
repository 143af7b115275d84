"""A user's flow through the Python client generated from the served OpenAPI document
(openapi-python-client, tests/clients/python/generator.yaml), used as generated: nothing here
touches HTTP except through it. Run by tests/tests/clients.rs against the real system.

    flow.py BASE_URL API_KEY IMAGE

Prints one JSON object: what the Rust side checks against the store (the result's digest,
its size, the task ids seen).
"""

import hashlib
import io
import json
import sys
import time
import uuid

from PIL import Image

from imagepipe_client import AuthenticatedClient
from imagepipe_client.api.analyze import analyze
from imagepipe_client.api.tasks import cancel_task, download_result, get_task, list_tasks
from imagepipe_client.models import (
    Accepted,
    AnalyzeBody,
    Problem,
    Status,
    StepDelayStep,
    StepDelayStepOp,
    StepGrayscaleStep,
    StepGrayscaleStepOp,
    StepResizeStep,
    StepResizeStepOp,
    TaskPage,
    TaskView,
)
from imagepipe_client.types import UNSET, File

DEADLINE_S = 60


def expect(value, kind, what):
    assert isinstance(value, kind), f"{what}: expected {kind.__name__}, got {value!r}"
    return value


def upload(client, image_bytes, name, steps, key=UNSET):
    body = AnalyzeBody(file=File(payload=io.BytesIO(image_bytes), file_name=name), steps=steps)
    return analyze.sync(client=client, body=body, idempotency_key=key)


def wait_completed(client, task_id):
    deadline = time.monotonic() + DEADLINE_S
    while True:
        task = expect(get_task.sync(task_id, client=client), TaskView, "get_task")
        if task.status in (Status.COMPLETED, Status.FAILED, Status.CANCELLED):
            assert task.status == Status.COMPLETED, f"{task_id}: {task.to_dict()}"
            return task
        assert time.monotonic() < deadline, f"{task_id} not done in {DEADLINE_S} s"
        time.sleep(0.1)


def main():
    base_url, api_key, image_path = sys.argv[1:4]
    client = AuthenticatedClient(
        base_url=base_url, token=api_key, prefix="", auth_header_name="X-API-Key"
    )
    image_bytes = open(image_path, "rb").read()
    steps = [
        StepResizeStep(op=StepResizeStepOp.RESIZE, width=64),
        StepGrayscaleStep(op=StepGrayscaleStepOp.GRAYSCALE),
    ]

    # Upload with an Idempotency-Key; the same request again answers the same task.
    key = f"python-flow-{uuid.uuid4()}"
    first = expect(upload(client, image_bytes, "photo.jpg", steps, key), Accepted, "upload")
    again = expect(upload(client, image_bytes, "photo.jpg", steps, key), Accepted, "replay")
    assert again.task_id == first.task_id, (first, again)

    # Poll to COMPLETED, then download the result through the API.
    task = wait_completed(client, first.task_id)
    assert task.result is not UNSET and task.error is UNSET, task.to_dict()
    downloaded = download_result.sync_detailed(first.task_id, client=client)
    assert downloaded.status_code == 200, downloaded
    result_bytes = downloaded.content
    result = Image.open(io.BytesIO(result_bytes))
    assert (result.width, result.height) == (task.result.width, task.result.height), task.to_dict()
    assert result.width == 64, result.size
    assert downloaded.headers["content-type"] == task.result.content_type

    # Two more, then the COMPLETED ones listed two to a page: every one once, newest first.
    others = [
        expect(upload(client, image_bytes, f"more-{i}.jpg", steps), Accepted, "upload").task_id
        for i in range(2)
    ]
    for task_id in others:
        wait_completed(client, task_id)
    listed, cursor, pages = [], UNSET, 0
    while True:
        page = expect(
            list_tasks.sync(client=client, status=Status.COMPLETED, limit=2, cursor=cursor),
            TaskPage,
            "list_tasks",
        )
        pages += 1
        listed += [t.task_id for t in page.tasks]
        assert all(t.status == Status.COMPLETED for t in page.tasks)
        if page.next_cursor is UNSET:
            break
        cursor = page.next_cursor
    assert pages == 2, pages
    assert sorted(listed) == sorted([first.task_id, *others]), listed

    # Cancel a task that waits: it is CANCELLED.
    slow = [StepDelayStep(op=StepDelayStepOp.DELAY, ms=60000)]
    waiting = expect(upload(client, image_bytes, "slow.jpg", slow), Accepted, "upload")
    cancelled = expect(cancel_task.sync(waiting.task_id, client=client), TaskView, "cancel")
    assert cancelled.status == Status.CANCELLED, cancelled.to_dict()

    # Typed problems: 404 for an unknown id, 422 for an empty file.
    missing = get_task.sync_detailed(uuid.uuid4(), client=client)
    assert missing.status_code == 404
    problem = expect(missing.parsed, Problem, "404")
    assert (problem.code, problem.status) == ("task_not_found", 404), problem.to_dict()
    refused = expect(upload(client, b"", "empty.png", UNSET), Problem, "422")
    assert (refused.code, refused.status) == ("empty_file", 422), refused.to_dict()

    print(
        json.dumps(
            {
                "task_id": str(first.task_id),
                "result_sha256": hashlib.sha256(result_bytes).hexdigest(),
                "listed": [str(t) for t in listed],
                "cancelled": str(waiting.task_id),
            }
        )
    )


if __name__ == "__main__":
    main()
