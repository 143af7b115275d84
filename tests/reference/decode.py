#!/usr/bin/env python3
"""Decode imagepipe's results with Pillow, a decoder independent of the processor's encoders.

    decode.py MANIFEST.json

MANIFEST is {"files": [{"path", "out"}, ...]}. Each "path" (a JPEG, PNG, WebP or AVIF result)
is opened with Pillow (libjpeg-turbo, libpng, libwebp, libavif as its wheels bundle them),
fully decoded, and written to "out" as PNG in the mode Pillow decoded it to. One JSON line per
file goes to stdout: {"path", "format", "mode", "width", "height"}. The format is what Pillow
recognised from the bytes, not what the name says.

Exits with status 3 and a message if Pillow lacks a codec (features.check) or is missing.
"""

import json
import sys

try:
    from PIL import Image, features
except ImportError as e:  # the message is the point: the Rust test shows it
    print(f"decode.py: {e}: install tests/reference/requirements.txt "
          "(source scripts/lib.sh && ensure_python_tools)", file=sys.stderr)
    sys.exit(3)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    missing = [codec for codec in ("jpg", "zlib", "webp", "avif") if not features.check(codec)]
    if missing:
        print(f"decode.py: this Pillow ({Image.__version__}) lacks {missing}: "
              "Pillow >= 11.3 wheels ship them all", file=sys.stderr)
        sys.exit(3)
    with open(sys.argv[1]) as f:
        files = json.load(f)["files"]
    for entry in files:
        with Image.open(entry["path"]) as image:
            image.load()
            image.save(entry["out"], "PNG", compress_level=1)
            print(json.dumps({
                "path": entry["path"],
                "format": image.format,
                "mode": image.mode,
                "width": image.width,
                "height": image.height,
            }), flush=True)


if __name__ == "__main__":
    main()
