#!/usr/bin/env python3
"""An independent BlazeFace reference: the same model file run by onnxruntime's own Python
build, with pre- and post-processing written here from MediaPipe's definitions, not from
imagepipe's code.

    faces.py detect IMAGE [--min-score 0.75] [--model PATH]
    faces.py raw IMAGE_OR_NPY [--model PATH]

detect prints {"faces": [{"box": {"x", "y", "width", "height"}, "score",
"keypoints": [{"x", "y"} x 6]}, ...], "input_size": 128, "max_score"} in pixel coordinates of
IMAGE as it is upright (EXIF orientation applied), faces by score, highest first. "max_score"
is the highest score of any anchor, kept or not (how far an image without a face is from
the threshold). Boxes are not clipped to the image (a face at the edge may reach past it).

raw prints {"input", "outputs": [{"name", "shape", "data"}, ...]} with the four output
tensors flattened, for an input tensor that is either a .npy file (float32 [1,128,128,3])
or an image pre-processed as detect does: a parity test of another runtime against
onnxruntime on the same input.

--model defaults to $FACE_MODEL_PATH, else .local/models/blazeface-front-128.onnx (where
scripts/lib.sh's ensure_models puts it). onnxruntime runs on the CPU provider with one
intra-op thread (as the benchmarks compare), its warnings silenced.

Exit status 3 with a message naming the missing package when one is not installed (the
Rust test then fails with it: scripts/lib.sh's ensure_python_tools installs them); 2 when
the model file is missing.
"""

import argparse
import json
import os
import sys
from pathlib import Path

try:
    import numpy as np
    import onnxruntime as ort
    from PIL import Image, ImageOps
except ImportError as e:  # the message is the point: the Rust test shows it
    print(f"faces.py: {e}: install tests/reference/requirements.txt "
          "(source scripts/lib.sh && ensure_python_tools)", file=sys.stderr)
    sys.exit(3)

INPUT_SIZE = 128
INPUT_NAME = "input:0"
# (scores, boxes) output names per anchor layer, in anchor order: the 16x16 grid's 512
# anchors come first in MediaPipe's anchor list, then the 8x8 grid's 384.
OUTPUTS = ["Identity:0", "Identity_1:0", "Identity_2:0", "Identity_3:0"]
LAYERS = [("Identity:0", "Identity_2:0", 16, 2), ("Identity_1:0", "Identity_3:0", 8, 6)]
KEYPOINTS = 6  # right eye, left eye, nose tip, mouth, right ear tragion, left ear tragion
# MediaPipe's face_detection_short_range graph: raw scores clipped to +-100 before the
# sigmoid, candidates kept at min_score, weighted NMS merging boxes with IoU above 0.3.
SCORE_CLIP = 100.0
IOU_THRESHOLD = 0.3
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / ".local/models/blazeface-front-128.onnx"


def session(model):
    if not Path(model).is_file():
        print(f"faces.py: no model file {model} (source scripts/lib.sh && ensure_models, "
              "or give --model or FACE_MODEL_PATH)", file=sys.stderr)
        sys.exit(2)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: the file's unused initialisers warn
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def anchors():
    """MediaPipe's SSD anchors for the 128x128 front model, [896, 2] centres in [0, 1].

    Its anchor options (strides 8, 16, 16, 16, two anchors per stride, fixed size) give a
    16x16 grid with 2 anchors per cell and an 8x8 grid with 6 (the three stride-16 layers
    share one grid); each anchor's centre is its cell's centre, its size 1x1, so it only
    shifts the decoded offsets. Order: row, then column, then the anchors of the cell.
    """
    centres = []
    for _, _, cells, count in LAYERS:
        for row in range(cells):
            for col in range(cells):
                centres += [((col + 0.5) / cells, (row + 0.5) / cells)] * count
    return np.array(centres, dtype=np.float64)


def letterbox(image):
    """The whole image fitted into the model's 128x128 input, keeping its aspect.

    Scale = 128 / the longer side; the scaled size is rounded (half away from zero, as
    Rust's f64::round; at least 1 pixel) and the image resized to it with Pillow's BILINEAR,
    which widens its support when reducing (an antialiasing filter), so a large photograph
    is averaged down, not sampled; Pillow resizes in 8 bits, so values are whole levels. The scaled image is centred (its
    offset rounded down) and the rest is padding of 0.0 in tensor space (mid-grey). Pixels
    are scaled to [-1, 1] as v / 127.5 - 1 (BlazeFace's training range), float32, NHWC
    [1, 128, 128, 3] in RGB order. Returns the tensor and the mapping back to the image:
    (offset x, offset y, pixels of the image per input pixel along x, along y), per axis
    from the rounded size so that the box edges map back exactly to the image's edges.
    """
    w, h = image.size
    scale = INPUT_SIZE / max(w, h)
    nw = min(INPUT_SIZE, max(1, int(np.floor(w * scale + 0.5))))
    nh = min(INPUT_SIZE, max(1, int(np.floor(h * scale + 0.5))))
    resized = np.asarray(image.resize((nw, nh), Image.BILINEAR), dtype=np.float32)
    ox, oy = (INPUT_SIZE - nw) // 2, (INPUT_SIZE - nh) // 2
    tensor = np.zeros((1, INPUT_SIZE, INPUT_SIZE, 3), dtype=np.float32)
    tensor[0, oy:oy + nh, ox:ox + nw, :] = resized / 127.5 - 1.0
    return tensor, (ox, oy, w / nw, h / nh)


def load_image(path):
    """The image upright (EXIF orientation applied) in RGB (alpha dropped, grey expanded)."""
    image = ImageOps.exif_transpose(Image.open(path))
    return image.convert("RGB")


def run(sess, tensor):
    return dict(zip(OUTPUTS, sess.run(OUTPUTS, {INPUT_NAME: tensor})))


def decode(outputs):
    """Scores [896] and boxes [896, 4 + 2 * 6] in units of the 128 input, MediaPipe's way.

    score = sigmoid(raw clipped to +-100). Each row of the box tensors is (dx, dy, w, h,
    then dx, dy of each keypoint), in input pixels: centre = anchor + (dx, dy) / 128,
    size = (w, h) / 128, keypoint = anchor + (dx, dy) / 128, in [0, 1] of the input, then
    times 128. y points down (image rows), as the anchors' rows do: checked on
    astronaut.png, whose box lands on the face, not on its mirror image.
    """
    raw_scores = np.concatenate([outputs[s].reshape(-1) for s, _, _, _ in LAYERS])
    raw_boxes = np.concatenate([outputs[b].reshape(-1, 16) for _, b, _, _ in LAYERS])
    raw_scores = np.clip(raw_scores.astype(np.float64), -SCORE_CLIP, SCORE_CLIP)
    scores = 1.0 / (1.0 + np.exp(-raw_scores))
    raw = raw_boxes.astype(np.float64) / INPUT_SIZE
    a = anchors()
    cx, cy = a[:, 0] + raw[:, 0], a[:, 1] + raw[:, 1]
    w, h = raw[:, 2], raw[:, 3]
    # Corners (xmin, ymin, xmax, ymax), then the keypoints' (x, y): all linear in the raw
    # values, so the weighted mean below may average them directly.
    boxes = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
    for k in range(KEYPOINTS):
        boxes += [a[:, 0] + raw[:, 4 + 2 * k], a[:, 1] + raw[:, 5 + 2 * k]]
    return scores, np.stack(boxes, axis=1) * INPUT_SIZE


def iou(box, others):
    """Intersection over union of one (xmin, ymin, xmax, ymax) box with each of others."""
    ix = np.clip(np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]), 0, None)
    inter = ix * iy
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(scores, boxes, min_score):
    """MediaPipe's weighted non-maximum suppression, in the input's units.

    Candidates with score >= min_score, by score descending (a stable sort: ties keep the
    anchor order). Repeatedly: the best remaining candidate and every remaining one whose
    IoU with it is > 0.3 (the best included) form a group; the group's box and keypoints are
    its members' score-weighted mean, its score the best's; the group is removed.
    """
    keep = np.flatnonzero(scores >= min_score)
    order = keep[np.argsort(-scores[keep], kind="stable")]
    faces = []
    while order.size:
        best = order[0]
        overlap = iou(boxes[best], boxes[order]) > IOU_THRESHOLD
        overlap[0] = True  # itself, even if its box is empty
        group = order[overlap]
        weights = scores[group]
        merged = (boxes[group] * weights[:, None]).sum(axis=0) / weights.sum()
        faces.append((float(scores[best]), merged))
        order = order[~overlap]
    return faces


def to_image(face, mapping):
    """A face from input units to the image's pixels (undoing the letterbox)."""
    score, v = face
    ox, oy, sx, sy = mapping
    xs = (v[0::2] - ox) * sx
    ys = (v[1::2] - oy) * sy
    return {
        "box": {"x": xs[0], "y": ys[0], "width": xs[1] - xs[0], "height": ys[1] - ys[0]},
        "score": score,
        "keypoints": [{"x": x, "y": y} for x, y in zip(xs[2:], ys[2:])],
    }


def detect(args):
    sess = session(args.model)
    tensor, mapping = letterbox(load_image(args.image))
    scores, boxes = decode(run(sess, tensor))
    faces = [to_image(f, mapping) for f in weighted_nms(scores, boxes, args.min_score)]
    return {"faces": faces, "input_size": INPUT_SIZE, "max_score": float(scores.max())}


def raw(args):
    sess = session(args.model)
    if args.input.lower().endswith(".npy"):
        tensor = np.load(args.input)
        if tensor.dtype != np.float32 or tensor.shape != (1, INPUT_SIZE, INPUT_SIZE, 3):
            sys.exit(f"faces.py: {args.input}: {tensor.dtype} {list(tensor.shape)}, "
                     f"expected float32 [1, {INPUT_SIZE}, {INPUT_SIZE}, 3]")
    else:
        tensor, _ = letterbox(load_image(args.input))
    outputs = run(sess, tensor)
    return {"input": args.input, "outputs": [
        {"name": name, "shape": list(outputs[name].shape),
         "data": outputs[name].reshape(-1).tolist()} for name in OUTPUTS]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=os.environ.get("FACE_MODEL_PATH") or DEFAULT_MODEL,
                        help="the BlazeFace front 128x128 ONNX file")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("detect", help="faces in an image, in its pixel coordinates")
    p.add_argument("image")
    p.add_argument("--min-score", type=float, default=0.75)
    p.set_defaults(fn=detect)
    p = sub.add_parser("raw", help="the four output tensors for an image or a .npy tensor")
    p.add_argument("input")
    p.set_defaults(fn=raw)
    # --model also after the subcommand, as the usage line shows it.
    for p in sub.choices.values():
        p.add_argument("--model", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    json.dump(args.fn(args), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
