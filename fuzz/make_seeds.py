"""Write the fuzzers' seed inputs into seeds/: small images of every accepted format (made
here from a synthetic pattern, no test photograph copied), upload forms, chains of steps
and messages.

    .local/venv-openapi/bin/python fuzz/make_seeds.py

Run once when the seeds change; the files are committed. Crash inputs found later are added
to seeds/TARGET/ too, so every fuzz run replays them first (the regression tests).
"""

import io
import json
import pathlib

from PIL import Image

SEEDS = pathlib.Path(__file__).parent / "seeds"


def pattern(mode, size=(40, 24)):
    image = Image.new("RGB", size)
    image.putdata([((x * 6) % 256, (y * 10) % 256, ((x + y) * 4) % 256)
                   for y in range(size[1]) for x in range(size[0])])
    return image.convert(mode)


def encoded(image, fmt, **options):
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def jpeg_variants():
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 clockwise to show upright
    yield "baseline-420", encoded(pattern("RGB"), "JPEG", quality=80)
    yield "progressive", encoded(pattern("RGB"), "JPEG", progressive=True)
    yield "grey", encoded(pattern("L"), "JPEG")
    yield "444-exif6", encoded(pattern("RGB"), "JPEG", subsampling=0, exif=exif.tobytes())
    yield "cmyk", encoded(pattern("CMYK"), "JPEG")


def write(target, name, data):
    folder = SEEDS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def form(parts, boundary="fuzz"):
    """A multipart body of (name, file name or None, bytes) parts, as upload_form reads it."""
    body = b""
    for name, file_name, data in parts:
        disposition = f'form-data; name="{name}"'
        if file_name is not None:
            disposition += f'; filename="{file_name}"'
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        body += data + b"\r\n"
    return body + f"--{boundary}--\r\n".encode()


def upload_forms(image):
    steps = [{"op": "grayscale"}, {"op": "rotate", "degrees": 90}]
    # upload_form's first byte: bit 0 a memory slot, bit 1 the digest.
    yield "file-only-memory", 1, form([("file", "a.png", image)])
    yield "file-only-disk-digest", 2, form([("file", "a.png", image)])
    yield "every-field", 3, form([("callback_url", None, b"https://example.com/hook"),
                                  ("preset", None, b"thumbnail"),
                                  ("steps", None, json.dumps(steps).encode()),
                                  ("other", None, b"skipped"),
                                  ("file", "a.png", image)])
    yield "step-per-part", 3, form([("steps", None, json.dumps(step).encode()) for step in steps]
                                   + [("file", None, image)])
    yield "file-over-the-limit", 1, form([("file", "big.bin", bytes(5000))])
    yield "no-file", 0, form([("preset", None, b"web")])
    yield "preset-twice", 0, form([("preset", None, b"a"), ("preset", None, b"b"),
                                   ("file", None, image)])


def main():
    for name, data in jpeg_variants():
        write("header", f"{name}.jpg", data)
        # jpeg_scaled's first two bytes: the side to shrink towards (×4) and grey or colour.
        write("jpeg_scaled", f"{name}-to8-colour", bytes([2, 0]) + data)
        write("jpeg_scaled", f"{name}-to16-grey", bytes([4, 1]) + data)
    png = encoded(pattern("RGBA"), "PNG")
    write("header", "rgba.png", png)
    for name, choice, body in upload_forms(png):
        write("upload_form", name, bytes([choice]) + body)
    write("header", "palette.gif", encoded(pattern("P"), "GIF"))
    write("header", "rgb.bmp", encoded(pattern("RGB"), "BMP"))
    write("header", "rgb.tiff", encoded(pattern("RGB"), "TIFF"))
    write("header", "rgb.webp", encoded(pattern("RGB"), "WEBP", quality=50))

    chains = {
        "default": [{"op": "grayscale"}, {"op": "delay", "ms": 5000}],
        "thumbnail": [{"op": "resize", "width": 256, "height": 256, "fit": "cover"},
                      {"op": "encode", "format": "jpeg", "quality": 90}],
        "everything": [{"op": "rotate", "degrees": 90}, {"op": "flip", "axis": "vertical"},
                       {"op": "crop", "x": 1, "y": 2, "width": 30, "height": 20},
                       {"op": "resize", "width": 10, "fit": "contain", "enlarge": True},
                       {"op": "blur", "sigma": 1.5}, {"op": "sharpen", "sigma": 1, "amount": 2},
                       {"op": "grayscale"}, {"op": "encode", "format": "webp", "lossless": True}],
        "bad": [{"op": "resize"}, {"op": "spin"}, 7, {"op": "crop", "x": -1}],
    }
    for name, chain in chains.items():
        # steps' first four bytes: the image's width and height, little-endian u16s.
        write("steps", f"{name}.json", bytes([40, 0, 24, 0]) + json.dumps(chain).encode())

    job = {"schema_version": 2, "message_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
           "task_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5c", "original_key": "originals/x",
           "content_type": "image/jpeg", "run": 0, "attempt": 1,
           "enqueued_at": "2026-12-02T00:00:00Z", "steps": chains["thumbnail"]}
    event = {"schema_version": 2, "message_id": job["message_id"], "task_id": job["task_id"],
             "status": "COMPLETED", "run": 0, "attempt": 1, "result_key": "results/x.jpg",
             "failure": None, "occurred_at": "2026-12-02T00:00:00Z",
             "result": {"width": 256, "height": 256, "content_type": "image/jpeg",
                        "size_bytes": 9000}}
    write("messages", "job.json", json.dumps(job).encode())
    write("messages", "event.json", json.dumps(event).encode())
    write("messages", "job-v1-parked.bin", b"processing_failed\tgave up\x00" +
          json.dumps({**job, "schema_version": 1}).encode())
    write("messages", "garbage-with-id.bin", b"\x00" + json.dumps({"task_id": job["task_id"]}).encode())


if __name__ == "__main__":
    main()
