#!/usr/bin/env python3
"""OpenCV doing imagepipe's kernel job, timed beside imagepipe's own numbers.

  opencv_kernel.py measure IMAGEPIPE.jsonl --dir IMAGES --luma-dir D --out-dir D [--runs N]
      Time OpenCV on the files the Rust `kernel` benchmark timed (one JSON line per file).
  opencv_kernel.py report OUT_DIR
      Read every round's imagepipe-N.jsonl and opencv-N.jsonl and print markdown tables.

OpenCV's job per file: cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE) at full size (for a JPEG,
libjpeg-turbo decodes straight to grayscale: only the Y plane is inverse-transformed), then
cv2.imencode to the format imagepipe wrote: JPEG at the same quality, PNG with OpenCV's
default PNG settings. One thread: cv2.setNumThreads(1). Run it through bench/kernel.sh.
"""

import argparse
import glob
import json
import os
import statistics
import sys
import time

import cv2
import numpy as np


def timed(runs, fn):
    """Median and minimum of `runs` timings in ms, after one untimed warm-up run."""
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3, min(times) * 1e3


def mean_abs_diff(a, b):
    if a is None or b is None or a.shape != b.shape:
        return float("nan")
    return float(np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16))))


def measure(args):
    cv2.setNumThreads(1)
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
        ms, min_ms = timed(args.runs, job)
        decode_ms, _ = timed(args.runs, lambda: cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE))
        encode_ms, _ = timed(args.runs, lambda: cv2.imencode(ext, grey, params))
        encoded = job()

        # imagepipe's grey plane before encoding, and its encoded result (grey of grey+alpha).
        ours = cv2.imread(os.path.join(args.luma_dir, r["file"] + ".pgm"), cv2.IMREAD_UNCHANGED)
        ours_out = cv2.imread(os.path.join(args.out_dir, f"{r['file']}{ext}"), cv2.IMREAD_GRAYSCALE)
        theirs_out = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)
        print(json.dumps({
            "file": r["file"],
            "opencv": cv2.__version__,
            "ms": ms,
            "min_ms": min_ms,
            "decode_ms": decode_ms,
            "encode_ms": encode_ms,
            "out_bytes": int(encoded.size),
            "luma_diff": mean_abs_diff(ours, grey),
            "output_diff": mean_abs_diff(ours_out, theirs_out),
        }), flush=True)


def load_rounds(out, who):
    rounds = []
    for path in sorted(glob.glob(os.path.join(out, f"{who}-*.jsonl"))):
        with open(path) as f:
            rounds.append({r["file"]: r for r in map(json.loads, filter(str.strip, f))})
    return rounds


def report(args):
    ours, theirs = load_rounds(args.out, "imagepipe"), load_rounds(args.out, "opencv")
    if not ours or len(ours) != len(theirs):
        sys.exit(f"{args.out}: expected as many imagepipe-N.jsonl as opencv-N.jsonl")
    med = statistics.median
    files = sorted(ours[0])
    first = ours[0][files[0]]
    print(f"{len(ours)} round(s) of {first['runs']} timed runs per file and measure, each side; "
          f"a figure is the median over rounds of each round's median. JPEG quality "
          f"{first['jpeg_quality']}. OpenCV {theirs[0][files[0]]['opencv']}.")
    print()
    print("| file | MP | out | imagepipe ms | OpenCV ms | speed ratio | imagepipe MP/s "
          "| OpenCV MP/s | best ms: imagepipe / OpenCV (ratio) | luma diff | output diff |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in files:
        mp = ours[0][name]["megapixels"]
        a = med(r[name]["ms"] for r in ours)
        b = med(r[name]["ms"] for r in theirs)
        ratios = [t[name]["ms"] / o[name]["ms"] for o, t in zip(ours, theirs)]
        spread = f" ({min(ratios):.2f}–{max(ratios):.2f})" if len(ratios) > 1 else ""
        best_a = min(r[name]["min_ms"] for r in ours)
        best_b = min(r[name]["min_ms"] for r in theirs)
        print(f"| {name} | {mp:.2f} | {ours[0][name]['out_extension']} | {a:.2f} | {b:.2f} "
              f"| {med(ratios):.2f}{spread} | {mp * 1e3 / a:.0f} | {mp * 1e3 / b:.0f} "
              f"| {best_a:.2f} / {best_b:.2f} ({best_b / best_a:.2f}) "
              f"| {theirs[0][name]['luma_diff']:.3f} | {theirs[0][name]['output_diff']:.3f} |")
    print()
    print("| file | imagepipe decode ms | OpenCV decode ms | imagepipe encode ms "
          "| OpenCV encode ms | imagepipe bytes | OpenCV bytes |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in files:
        print(f"| {name} | {med(r[name]['decode_ms'] for r in ours):.2f} "
              f"| {med(r[name]['decode_ms'] for r in theirs):.2f} "
              f"| {med(r[name]['encode_ms'] for r in ours):.2f} "
              f"| {med(r[name]['encode_ms'] for r in theirs):.2f} "
              f"| {ours[0][name]['out_bytes']} | {theirs[0][name]['out_bytes']} |")
    print()
    print("speed ratio = OpenCV ms / imagepipe ms, the median of the rounds' ratios (their range "
          "in brackets): above 1, imagepipe is faster. best ms: the fastest single run of all rounds, "
          "the least disturbed by other load on the machine. imagepipe's time is the whole kernel "
          "(header check, decode, orientation, grayscale, encode); its decode column includes "
          "the header check. luma diff = mean |imagepipe's grey plane before encoding - "
          "cv2.imdecode(original, IMREAD_GRAYSCALE)|; output diff = the same between the two "
          "encoded results, each decoded (grey levels; alpha, which imagepipe keeps and OpenCV "
          "drops, is not compared).")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure")
    m.add_argument("results", help="JSON lines from the Rust `kernel` benchmark")
    m.add_argument("--dir", required=True, help="the images")
    m.add_argument("--luma-dir", required=True, help="imagepipe's grey planes (PGM)")
    m.add_argument("--out-dir", required=True, help="imagepipe's encoded results")
    m.add_argument("--runs", type=int, default=11)
    r = sub.add_parser("report")
    r.add_argument("out", help="the directory with imagepipe-N.jsonl and opencv-N.jsonl")
    args = parser.parse_args()
    measure(args) if args.command == "measure" else report(args)


if __name__ == "__main__":
    main()
