#!/usr/bin/env python3
"""OpenCV doing imagepipe's kernel job, timed beside imagepipe's own numbers.

Reads the JSON lines `kernel` (the Rust benchmark) printed, times OpenCV on the same files
on one thread, compares grey planes, and prints a markdown table.

OpenCV's job per file: cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE) at full size (for a JPEG,
libjpeg-turbo decodes straight to grayscale: only the Y plane is inverse-transformed), then
cv2.imencode to the format imagepipe wrote (JPEG at the same quality; PNG with OpenCV's
default PNG settings). Run it through bench/kernel.sh.
"""

import argparse
import json
import os
import statistics
import sys
import time

import cv2
import numpy as np


def timed(runs, fn):
    fn()  # warm-up, untimed
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3, min(times) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results", help="JSON lines from the Rust `kernel` benchmark")
    parser.add_argument("--dir", required=True, help="the images")
    parser.add_argument("--luma-dir", required=True, help="imagepipe's grey planes (PGM)")
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()

    cv2.setNumThreads(1)
    print(f"OpenCV {cv2.__version__}, cv2.getNumThreads() = {cv2.getNumThreads()}", file=sys.stderr)

    rows = []
    with open(args.results) as f:
        results = [json.loads(line) for line in f if line.strip()]
    for r in results:
        buf = np.fromfile(os.path.join(args.dir, r["file"]), np.uint8)
        ext = "." + r["out_extension"]
        params = [cv2.IMWRITE_JPEG_QUALITY, r["jpeg_quality"]] if ext == ".jpg" else []

        def job():
            grey = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
            ok, out = cv2.imencode(ext, grey, params)
            assert ok
            return out

        grey = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
        cv_ms, cv_min = timed(args.runs, job)
        cv_decode, _ = timed(args.runs, lambda: cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE))
        cv_encode, _ = timed(args.runs, lambda: cv2.imencode(ext, grey, params))
        cv_bytes = len(job())

        ours = cv2.imread(os.path.join(args.luma_dir, r["file"] + ".pgm"), cv2.IMREAD_UNCHANGED)
        if ours is None or ours.shape != grey.shape:
            diff = float("nan")
        else:
            diff = float(np.mean(np.abs(ours.astype(np.int16) - grey.astype(np.int16))))
        rows.append((r, cv_ms, cv_min, cv_decode, cv_encode, cv_bytes, diff))

    print("| file | MP | out | imagepipe ms | OpenCV ms | ratio (OpenCV/imagepipe) "
          "| imagepipe MP/s | OpenCV MP/s | mean abs luma diff |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for r, cv_ms, _, _, _, _, diff in rows:
        mp = r["megapixels"]
        print(f"| {r['file']} | {mp:.2f} | {r['out_extension']} | {r['ms']:.2f} | {cv_ms:.2f} "
              f"| {cv_ms / r['ms']:.2f} | {mp * 1e3 / r['ms']:.1f} | {mp * 1e3 / cv_ms:.1f} "
              f"| {diff:.3f} |")
    print()
    print("Halves (medians) and sizes:")
    print()
    print("| file | imagepipe decode ms | OpenCV decode ms | imagepipe encode ms "
          "| OpenCV encode ms | imagepipe bytes | OpenCV bytes |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r, _, _, cv_decode, cv_encode, cv_bytes, _ in rows:
        print(f"| {r['file']} | {r['decode_ms']:.2f} | {cv_decode:.2f} | {r['encode_ms']:.2f} "
              f"| {cv_encode:.2f} | {r['out_bytes']} | {cv_bytes} |")
    print()
    print("ratio > 1: imagepipe is faster. Luma diff: imagepipe's grey plane before encoding "
          "against cv2.imdecode(IMREAD_GRAYSCALE) of the original, mean |a - b| in grey levels "
          "(alpha, which imagepipe keeps and OpenCV drops, is not compared).")


if __name__ == "__main__":
    main()
