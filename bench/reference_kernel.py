#!/usr/bin/env python3
"""libvips and OpenCV doing the jobs of imagepipe's op and preset chains, timed beside it.

  reference_kernel.py measure IMAGEPIPE.jsonl --tool {vips,opencv} --dir IMAGES
                      --out-dir D [--runs N]
      For each line of the Rust `kernel --chains` output (a file, a chain name and its exact
      steps), do the same job with the tool: decode the JPEG, the op, encode as the chain
      says. One JSON line per job, with the median and best time in ms.
  reference_kernel.py report OUT_DIR
      Read every round's chains-{imagepipe,vips,opencv}-N.jsonl and print markdown tables.

The jobs, per tool (each one thread: VIPS_CONCURRENCY=1 and no operation cache for libvips,
cv2.setNumThreads(1) for OpenCV; bench/kernel.sh pins the process to one core):

  chain      libvips (8.18, pyvips-binary)                  OpenCV (5.0, opencv-python-headless)
  resize     thumbnail_buffer(w, size=down): shrink-on-     IMREAD_REDUCED_COLOR_k (the largest
             load + Lanczos-3, like ours                     k keeping >= the size) + INTER_AREA
  crop       crop (extract_area)                             imdecode + slice
  rotate     rot90                                           cv2.rotate(ROTATE_90_CLOCKWISE)
  flip       fliphor                                         cv2.flip(img, 1)
  grayscale  recomb([0.299, 0.587, 0.114]) (BT.601 on the    IMREAD_GRAYSCALE (libjpeg-turbo
             decoded RGB: libvips cannot decode luma alone)  decodes the Y plane only, as ours)
  blur       gaussblur(sigma, min_ampl=0.011): cut at ±3σ    GaussianBlur((0, 0), sigma)
             as OpenCV's is
  sharpen    img·(1+a) − gaussblur(img)·a, cast to uchar     addWeighted(img, 1+a, blur, −a, 0)
  thumbnail  thumbnail_buffer(256, height=256,               IMREAD_REDUCED_COLOR_k, centre crop
             crop=centre)                                    to the box's aspect, INTER_AREA
  web        thumbnail_buffer(2048, height=2048, size=down)  reduced decode + INTER_AREA when
             + webpsave(Q=80)                                larger, imencode .webp quality 80

Every JPEG is written at the chain's quality with 4:2:0 chroma, as imagepipe writes it
(libvips would switch subsampling off at Q >= 90 by itself: subsample_mode="on" keeps the
jobs equal). Each result's size is checked against imagepipe's, and its pixels compared
(mean |difference| of the decoded results, grey levels).
"""

import argparse
import glob
import json
import os
import statistics
import sys
import time

os.environ.setdefault("VIPS_CONCURRENCY", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

GAUSS_MIN_AMPL = 0.011  # exp(-4.5): a Gaussian cut at ±3σ, where OpenCV's 8-bit one ends
MAX_COORD = 10_000_000  # libvips's largest size: "no limit" along an axis


def timed(runs, fn):
    """Median and minimum of `runs` timings in ms, after one untimed warm-up run."""
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3, min(times) * 1e3


def step(steps, op):
    return next((s for s in steps if s["op"] == op), None)


def reduction(size, at_least):
    """The largest JPEG DCT reduction (8, 4, 2) keeping both sides >= at_least."""
    for k in (8, 4, 2):
        if -(-size[0] // k) >= at_least[0] and -(-size[1] // k) >= at_least[1]:
            return k
    return 1


REDUCED = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2,
           4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}


def vips_job(pyvips, buf, job):
    """A function doing the job with libvips; returns the encoded bytes."""
    steps, chain = job["steps"], job["chain"]
    enc = step(steps, "encode")
    q = enc.get("quality", 90)

    def save(img):
        if enc["format"] == "webp":
            return img.webpsave_buffer(Q=q)
        return img.jpegsave_buffer(Q=q, subsample_mode="on")

    def load(access="sequential"):
        return pyvips.Image.new_from_buffer(buf, "", access=access)

    if chain == "resize":
        w = step(steps, "resize")["width"]
        return lambda: save(pyvips.Image.thumbnail_buffer(buf, w, height=MAX_COORD, size="down"))
    if chain == "crop":
        c = step(steps, "crop")
        return lambda: save(load().crop(c["x"], c["y"], c["width"], c["height"]))
    if chain == "rotate":
        return lambda: save(load("random").rot90())
    if chain == "flip":
        return lambda: save(load().fliphor())
    if chain == "grayscale":
        return lambda: save(load().recomb([[0.299, 0.587, 0.114]]).cast("uchar"))
    if chain == "blur":
        sigma = step(steps, "blur")["sigma"]
        return lambda: save(load().gaussblur(sigma, min_ampl=GAUSS_MIN_AMPL))
    if chain == "sharpen":
        s = step(steps, "sharpen")
        sigma, a = s["sigma"], s["amount"]

        def sharpen():
            img = load("random")
            blurred = img.gaussblur(sigma, min_ampl=GAUSS_MIN_AMPL)
            return save((img * (1 + a) - blurred * a).cast("uchar"))
        return sharpen
    if chain == "thumbnail":
        r = step(steps, "resize")
        return lambda: save(pyvips.Image.thumbnail_buffer(
            buf, r["width"], height=r["height"], crop="centre"))
    if chain == "web":
        r = step(steps, "resize")
        return lambda: save(pyvips.Image.thumbnail_buffer(
            buf, r["width"], height=r["height"], size="down"))
    raise ValueError(f"no libvips job for {chain}")


def opencv_job(buf, job):
    """A function doing the job with OpenCV; returns the encoded bytes."""
    steps, chain = job["steps"], job["chain"]
    enc = step(steps, "encode")
    q = enc.get("quality", 90)
    size = (job["in_width"], job["in_height"])
    out = (job["width"], job["height"])

    def save(img):
        if enc["format"] == "webp":
            ok, data = cv2.imencode(".webp", img, [cv2.IMWRITE_WEBP_QUALITY, q])
        else:
            ok, data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])
        assert ok
        return data

    def load():
        return cv2.imdecode(buf, cv2.IMREAD_COLOR)

    def reduced_to(target):
        k = reduction(size, target)
        return cv2.imdecode(buf, REDUCED[k])

    if chain in ("resize", "web"):
        def resize():
            img = reduced_to(out)
            if (img.shape[1], img.shape[0]) != out:
                img = cv2.resize(img, out, interpolation=cv2.INTER_AREA)
            return save(img)
        return resize
    if chain == "crop":
        c = step(steps, "crop")
        return lambda: save(load()[c["y"]:c["y"] + c["height"], c["x"]:c["x"] + c["width"]])
    if chain == "rotate":
        return lambda: save(cv2.rotate(load(), cv2.ROTATE_90_CLOCKWISE))
    if chain == "flip":
        return lambda: save(cv2.flip(load(), 1))
    if chain == "grayscale":
        return lambda: save(cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE))
    if chain == "blur":
        sigma = step(steps, "blur")["sigma"]
        return lambda: save(cv2.GaussianBlur(load(), (0, 0), sigma))
    if chain == "sharpen":
        s = step(steps, "sharpen")
        sigma, a = s["sigma"], s["amount"]

        def sharpen():
            img = load()
            return save(cv2.addWeighted(img, 1 + a, cv2.GaussianBlur(img, (0, 0), sigma), -a, 0))
        return sharpen
    if chain == "thumbnail":
        r = step(steps, "resize")
        box = (r["width"], r["height"])

        def thumbnail():
            factor = max(box[0] / size[0], box[1] / size[1])
            img = reduced_to((round(size[0] * factor), round(size[1] * factor)))
            h, w = img.shape[:2]
            # The largest window of the box's aspect, centred, then INTER_AREA to the box.
            cw, ch = min(w, round(h * box[0] / box[1])), min(h, round(w * box[1] / box[0]))
            x, y = (w - cw) // 2, (h - ch) // 2
            return save(cv2.resize(img[y:y + ch, x:x + cw], box, interpolation=cv2.INTER_AREA))
        return thumbnail
    raise ValueError(f"no OpenCV job for {chain}")


def decoded(data):
    return cv2.imdecode(np.frombuffer(bytes(data), np.uint8), cv2.IMREAD_COLOR)


def measure(args):
    cv2.setNumThreads(1)
    pyvips = None
    if args.tool == "vips":
        import pyvips
        pyvips.cache_set_max(0)
    with open(args.results) as f:
        jobs = [json.loads(line) for line in f if line.strip()]
    for job in jobs:
        buf = open(os.path.join(args.dir, job["file"]), "rb").read()
        if args.tool == "vips":
            fn = vips_job(pyvips, buf, job)
            version = pyvips.version(0), pyvips.version(1), pyvips.version(2)
            version = "libvips %d.%d.%d" % version
        else:
            fn = opencv_job(np.frombuffer(buf, np.uint8), job)
            version = "OpenCV " + cv2.__version__
        ms, min_ms = timed(args.runs, fn)
        result = fn()
        theirs = decoded(result)
        ours_path = os.path.join(args.out_dir, f"{job['file']}.{job['chain']}.{job['out_extension']}")
        ours = cv2.imread(ours_path, cv2.IMREAD_COLOR)
        same_size = theirs is not None and ours is not None and theirs.shape == ours.shape
        diff = float(np.mean(np.abs(theirs.astype(np.int16) - ours.astype(np.int16)))) \
            if same_size else float("nan")
        print(json.dumps({
            "file": job["file"], "chain": job["chain"], "tool": args.tool, "version": version,
            "ms": ms, "min_ms": min_ms, "out_bytes": len(bytes(result)),
            "width": None if theirs is None else int(theirs.shape[1]),
            "height": None if theirs is None else int(theirs.shape[0]),
            "same_size": same_size, "diff": diff,
        }), flush=True)


def load_rounds(out, who):
    rounds = []
    for path in sorted(glob.glob(os.path.join(out, f"chains-{who}-*.jsonl"))):
        with open(path) as f:
            rounds.append({(r["file"], r["chain"]): r for r in map(json.loads, filter(str.strip, f))})
    return rounds


def report(args):
    ours = load_rounds(args.out, "imagepipe")
    vips, cv = load_rounds(args.out, "vips"), load_rounds(args.out, "opencv")
    if not ours or not (len(ours) == len(vips) == len(cv)):
        sys.exit(f"{args.out}: expected as many chains-imagepipe-N.jsonl as vips and opencv")
    med = statistics.median
    keys = sorted(ours[0], key=lambda k: (k[1], k[0]))
    first = ours[0][keys[0]]
    print(f"{len(ours)} round(s) of {first['runs']} timed runs per job and tool; a figure is the "
          f"median over rounds of each round's median. {vips[0][keys[0]]['version']}, "
          f"{cv[0][keys[0]]['version']}.")
    print()
    print("| chain | file | MP | out | imagepipe ms | libvips ms | OpenCV ms "
          "| × libvips | × OpenCV | best ms: imagepipe / libvips / OpenCV | diff libvips / OpenCV |")
    print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for key in keys:
        o = ours[0][key]
        a = med(r[key]["ms"] for r in ours)
        b = med(r[key]["ms"] for r in vips)
        c = med(r[key]["ms"] for r in cv)
        rv = med(t[key]["ms"] / s[key]["ms"] for s, t in zip(ours, vips))
        rc = med(t[key]["ms"] / s[key]["ms"] for s, t in zip(ours, cv))
        best = "/".join(f"{min(r[key]['min_ms'] for r in rounds):.1f}" for rounds in (ours, vips, cv))
        sizes = "" if vips[0][key]["same_size"] and cv[0][key]["same_size"] else " (size differs)"
        print(f"| {key[1]} | {key[0]} | {o['megapixels']:.2f} | {o['width']}×{o['height']} "
              f"{o['out_extension']} | {a:.2f} | {b:.2f} | {c:.2f} | {rv:.2f} | {rc:.2f} | {best} "
              f"| {vips[0][key]['diff']:.2f} / {cv[0][key]['diff']:.2f}{sizes} |")
    print()
    print("× libvips = libvips ms / imagepipe ms, × OpenCV likewise (the median of the rounds' "
          "ratios): above 1, imagepipe is faster. best ms: the fastest single run of all rounds. "
          "diff: mean |their result − imagepipe's|, both decoded (grey levels; includes both "
          "encoders' losses).")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure")
    m.add_argument("results", help="JSON lines from `kernel --chains`")
    m.add_argument("--tool", choices=("vips", "opencv"), required=True)
    m.add_argument("--dir", required=True, help="the images")
    m.add_argument("--out-dir", required=True, help="imagepipe's results")
    m.add_argument("--runs", type=int, default=11)
    r = sub.add_parser("report")
    r.add_argument("out", help="the directory with chains-*-N.jsonl")
    args = parser.parse_args()
    measure(args) if args.command == "measure" else report(args)


if __name__ == "__main__":
    main()
