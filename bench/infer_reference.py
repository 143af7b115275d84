"""The reference client of bench/infer_server.sh: REQUESTS posts of the same Open Inference
Protocol request body (the one imagepipe's processor sends, written by the infer_server
benchmark) to URL, CONCURRENCY at a time, each thread on its own keep-alive connection
(http.client, the standard library: no client library's own overhead). Prints one JSON
object: images per second, latency median and 99th percentile, requests in flight at most.

    infer_reference.py --url URL --body FILE [--requests N] [--concurrency C]
"""

import argparse
import http.client
import json
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--body", required=True)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    url = urllib.parse.urlsplit(args.url)
    body = open(args.body, "rb").read()
    local = threading.local()
    lock = threading.Lock()
    state = {"in_flight": 0, "most": 0}

    def post():
        if not hasattr(local, "connection"):
            local.connection = http.client.HTTPConnection(url.hostname, url.port)
        with lock:
            state["in_flight"] += 1
            state["most"] = max(state["most"], state["in_flight"])
        start = time.perf_counter()
        local.connection.request(
            "POST", url.path, body, {"Content-Type": "application/json"}
        )
        response = local.connection.getresponse()
        answer = response.read()
        elapsed = time.perf_counter() - start
        with lock:
            state["in_flight"] -= 1
        if response.status != 200:
            raise RuntimeError(f"{response.status}: {answer[:200]!r}")
        return elapsed

    with ThreadPoolExecutor(args.concurrency) as pool:
        list(pool.map(lambda _: post(), range(args.concurrency)))  # warm up
        state["most"] = 0
        start = time.perf_counter()
        latencies = sorted(pool.map(lambda _: post(), range(args.requests)))
        elapsed = time.perf_counter() - start
    at = lambda q: latencies[int((len(latencies) - 1) * q)] * 1000
    print(
        json.dumps(
            {
                "images_per_s": args.requests / elapsed,
                "p50_ms": at(0.5),
                "p99_ms": at(0.99),
                "max_in_flight": state["most"],
            }
        )
    )


if __name__ == "__main__":
    main()
