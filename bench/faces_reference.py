#!/usr/bin/env python3
"""onnxruntime's own Python build running the shipped BlazeFace file on one intra-op thread,
timed on the same kind of input as bench/src/bin/faces.rs: each image stretched into
128x128, in [-1, 1]. One JSON object per file, times in milliseconds (median, minimum).

    faces_reference.py [--runs N] [--model PATH] FILES...
"""

import argparse
import json
import time

import numpy as np
import onnxruntime as ort
from PIL import Image


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=51)
    parser.add_argument("--model", default=".local/models/blazeface-front-128.onnx")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    for path in args.files:
        image = Image.open(path).convert("RGB").resize((128, 128), Image.BILINEAR)
        tensor = (np.asarray(image, dtype=np.float32) / 127.5 - 1.0)[None]
        session.run(None, {"input:0": tensor})
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            session.run(None, {"input:0": tensor})
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        print(json.dumps({"file": path.rsplit("/", 1)[-1],
                          "infer_ms": {"median": times[len(times) // 2], "min": times[0]}}))


if __name__ == "__main__":
    main()
