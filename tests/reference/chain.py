#!/usr/bin/env python3
"""Independent references for imagepipe's steps, computed with Pillow, OpenCV and NumPy.

    chain.py MANIFEST.json

MANIFEST is {"cases": [{"name", "input", "steps", "out"}, ...]}; "steps" is a chain as the
processor reads it (serde's canonical JSON, every default spelled out). For each case this
decodes "input" with Pillow (turned upright by ImageOps.exif_transpose), applies the steps
with the libraries below, and writes the result to "out" as PNG (lossless). A case may name
"decoded" instead: a PNG already decoded (the kernel's own no-op result), for the exact ops,
so that JPEG decoders' ±1-2 level disagreements do not enter an exact comparison.

What each op is here, written from the issue's definitions, not from imagepipe's code:
- resize: Pillow Image.resize(LANCZOS), a Lanczos-3 convolution whose support widens with
  the shrink factor (an antialiasing filter), alpha premultiplied around it. `cover` scales
  the whole image to fill the box, then crops the overflow by gravity: centred on an axis
  the gravity does not name (rounded down), flush with the edge it names. A case with
  "cover": "imageops_fit" uses Pillow's ImageOps.fit instead (the gravity as its
  `centering`), which crops the original at fractional coordinates first and scales after.
- crop, rotate (clockwise), flip: NumPy slicing, rot90 and flips: exact.
- grayscale: OpenCV cvtColor(RGB2GRAY), BT.601 (0.299 R + 0.587 G + 0.114 B); alpha kept.
- blur: OpenCV GaussianBlur(ksize=(0, 0), sigmaX=sigma), its default border (reflect-101).
- sharpen: img + amount * (img - GaussianBlur(img, sigma)) in float32, then rounded.
Colour ops on an image with alpha work on alpha-premultiplied values and divide back, so the
colour of fully transparent pixels (which no viewer shows) cannot leak into visible ones.

Exit status 3 with a message naming the missing package when one is not installed (the
Rust test then fails with it: scripts/lib.sh's ensure_python_tools installs them).
"""

import json
import sys

try:
    import cv2
    import numpy as np
    from PIL import Image, ImageOps
except ImportError as e:  # the message is the point: the Rust test shows it
    print(f"chain.py: {e}: install tests/reference/requirements.txt "
          "(source scripts/lib.sh && ensure_python_tools)", file=sys.stderr)
    sys.exit(3)

if len(sys.argv) != 2:
    sys.exit(__doc__)

GRAVITY_CENTERING = {
    "centre": (0.5, 0.5), "north": (0.5, 0.0), "south": (0.5, 1.0),
    "east": (1.0, 0.5), "west": (0.0, 0.5), "north_east": (1.0, 0.0),
    "north_west": (0.0, 0.0), "south_east": (1.0, 1.0), "south_west": (0.0, 1.0),
}


def load(case):
    """The starting image as a Pillow image in L, LA, RGB or RGBA."""
    if "decoded" in case:
        image = Image.open(case["decoded"])
    else:
        image = ImageOps.exif_transpose(Image.open(case["input"]))
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode not in ("L", "LA", "RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.mode else "RGB")
    return image


def scale_side(side, factor):
    """Round half away from zero (Rust's f64::round), at least 1."""
    return max(1, int(np.floor(side * factor + 0.5)))


def resize(image, step, imageops_fit):
    """The issue's resize: fit contain/cover/fill, enlarge, sizes rounded, at least 1."""
    w, h = image.size
    bw, bh, fit, enlarge = step.get("width"), step.get("height"), step["fit"], step["enlarge"]
    keep = (lambda f: f) if enlarge else (lambda f: min(f, 1.0))
    if fit == "fill":
        size = (bw, bh) if enlarge else (min(bw, w), min(bh, h))
        return image.resize(size, Image.LANCZOS)
    if fit == "cover":
        factor = keep(max(bw / w, bh / h))
        scaled = (scale_side(w, factor), scale_side(h, factor))
        box = (min(bw, scaled[0]), min(bh, scaled[1]))
        if imageops_fit and box != scaled:
            return ImageOps.fit(image, box, Image.LANCZOS,
                                centering=GRAVITY_CENTERING[step["gravity"]])
        if scaled != (w, h):
            image = image.resize(scaled, Image.LANCZOS)
        cx, cy = GRAVITY_CENTERING[step["gravity"]]
        x = int((scaled[0] - box[0]) * cx)
        y = int((scaled[1] - box[1]) * cy)
        return image.crop((x, y, x + box[0], y + box[1]))
    factors = [f for f in (bw and bw / w, bh and bh / h) if f]
    factor = keep(min(factors))
    size = (scale_side(w, factor), scale_side(h, factor))
    return image if size == (w, h) else image.resize(size, Image.LANCZOS)


def on_colour(image, fn):
    """Apply fn (float32 HxWxC -> same) to the colour of an image, premultiplied by alpha."""
    a = np.asarray(image).astype(np.float32)
    if a.ndim == 2:
        a = a[:, :, None]
    if image.mode in ("LA", "RGBA"):
        colour, alpha = a[:, :, :-1], a[:, :, -1:]
        pre = fn(colour * alpha / 255.0)
        alpha_out = fn(alpha)
        safe = np.where(alpha_out > 0, alpha_out, 1.0)
        out = np.concatenate([np.where(alpha_out > 0, pre * 255.0 / safe, 0.0), alpha_out], 2)
    else:
        out = fn(a)
    out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return Image.fromarray(out[:, :, 0] if out.shape[2] == 1 else out, image.mode)


def gaussian(sigma):
    def blur(a):
        out = cv2.GaussianBlur(a, (0, 0), sigmaX=sigma)
        return out.reshape(a.shape)
    return blur


def sharpen(sigma, amount):
    def mask(a):
        return a + amount * (a - gaussian(sigma)(a))
    return mask


def grayscale(image):
    if image.mode in ("L", "LA"):
        return image
    a = np.asarray(image)
    grey = cv2.cvtColor(np.ascontiguousarray(a[:, :, :3]), cv2.COLOR_RGB2GRAY)
    if image.mode == "RGBA":
        return Image.fromarray(np.dstack([grey, a[:, :, 3]]), "LA")
    return Image.fromarray(grey, "L")


def numpy_op(image, fn):
    return Image.fromarray(np.ascontiguousarray(fn(np.asarray(image))), image.mode)


def apply(image, step, case):
    op = step["op"]
    if op == "resize":
        return resize(image, step, case.get("cover") == "imageops_fit")
    if op == "crop":
        x, y, w, h = step["x"], step["y"], step["width"], step["height"]
        return numpy_op(image, lambda a: a[y:y + h, x:x + w])
    if op == "rotate":
        return numpy_op(image, lambda a: np.rot90(a, k=-(step["degrees"] // 90)))
    if op == "flip":
        axis = 1 if step["axis"] == "horizontal" else 0
        return numpy_op(image, lambda a: np.flip(a, axis))
    if op == "grayscale":
        return grayscale(image)
    if op == "blur":
        return on_colour(image, gaussian(step["sigma"]))
    if op == "sharpen":
        return on_colour(image, sharpen(step["sigma"], step["amount"]))
    if op in ("encode", "delay"):
        return image
    raise ValueError(f"unknown op {op}")


def main():
    cv2.setNumThreads(1)
    with open(sys.argv[1]) as f:
        cases = json.load(f)["cases"]
    for case in cases:
        image = load(case)
        for step in case["steps"]:
            image = apply(image, step, case)
        image.save(case["out"], "PNG", compress_level=1)


if __name__ == "__main__":
    main()
