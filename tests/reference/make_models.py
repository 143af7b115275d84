"""Small ONNX models for the `infer` tests, built with onnx.helper (no PyTorch), and what
onnxruntime's own Python build computes with them on inputs preprocessed apart from the
processor (Pillow's BILINEAR resize, NumPy normalisation).

    make_models.py OUT_DIR PHOTO OBLONG_PHOTO

writes into OUT_DIR:
- colours.onnx: float32 NCHW [1,3,24,32] -> GlobalAveragePool -> Flatten -> MatMul by
  2 * identity -> `logits` [1,3]; with colours.txt (red, green, blue) a red, green or blue
  image has its own colour as the top class. Declared `contain` with mean = std = 0.5.
- means.onnx: uint8 NHWC [1,16,16,3] -> Cast -> ReduceMean over height and width ->
  `mean` [1,3] (pixel levels) and `scaled` = mean / 255. Declared `fill`, `bgr`.
- flat.onnx: float32 NCHW [1,3,h,w] (h, w dynamic) -> Flatten(axis=0) -> `values` [n], n
  dynamic: no start-up check can bound it.
- red.png, green.png, blue.png: 40x40 solid colours.
and prints JSON: each model's file and SHA-256, and the expected outputs (`colours` on each
colour image: softmax top 2; `means` on PHOTO: both outputs; `means_fits`: `mean` on
OBLONG_PHOTO, not square, fitted by `cover` (Pillow's resize of the centred box of the
input's aspect) and by `contain` (padded with grey 128)).
"""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper
from PIL import Image

OPSET = 13


def save(model, path):
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def colours_model():
    weights = helper.make_tensor(
        "weights", TensorProto.FLOAT, [3, 3], (2.0 * np.eye(3)).flatten().tolist()
    )
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["pixels"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
            helper.make_node("MatMul", ["flat", "weights"], ["logits"]),
        ],
        "colours",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [1, 3, 24, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3])],
        [weights],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def means_model():
    graph = helper.make_graph(
        [
            helper.make_node("Cast", ["image"], ["levels"], to=TensorProto.FLOAT),
            helper.make_node("ReduceMean", ["levels"], ["mean"], axes=[1, 2], keepdims=0),
            helper.make_node("Div", ["mean", "full"], ["scaled"]),
        ],
        "means",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, [1, 16, 16, 3])],
        [
            helper.make_tensor_value_info("mean", TensorProto.FLOAT, [1, 3]),
            helper.make_tensor_value_info("scaled", TensorProto.FLOAT, [1, 3]),
        ],
        [helper.make_tensor("full", TensorProto.FLOAT, [], [255.0])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def flat_model():
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["image"], ["flat"], axis=0),
         helper.make_node("Squeeze", ["flat", "first"], ["values"])],
        "flat",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "h", "w"])],
        [helper.make_tensor_value_info("values", TensorProto.FLOAT, ["n"])],
        [helper.make_tensor("first", TensorProto.INT64, [1], [0])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def contain(image, width, height, pad=0):
    """Scaled to fit, centred, padded: the processor's `contain`."""
    scale = min(width / image.width, height / image.height)
    scaled = (
        min(max(round(image.width * scale), 1), width),
        min(max(round(image.height * scale), 1), height),
    )
    canvas = Image.new("RGB", (width, height), (pad, pad, pad))
    canvas.paste(image.resize(scaled, Image.BILINEAR), ((width - scaled[0]) // 2, (height - scaled[1]) // 2))
    return canvas


def cover(image, width, height):
    """The centred part of the input's aspect, scaled to fill it: the processor's `cover`."""
    scale = max(width / image.width, height / image.height)
    crop_w, crop_h = width / scale, height / scale
    left, top = (image.width - crop_w) / 2, (image.height - crop_h) / 2
    return image.resize((width, height), Image.BILINEAR, box=(left, top, left + crop_w, top + crop_h))


def session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def softmax(values):
    exps = np.exp(values - values.max())
    return exps / exps.sum()


def main():
    out, photo, oblong = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, model in [("colours", colours_model()), ("means", means_model()), ("flat", flat_model())]:
        path = out / f"{name}.onnx"
        save(model, path)
        files[name] = {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    labels = ["red", "green", "blue"]
    (out / "colours.txt").write_text("\n".join(labels) + "\n")

    expected = {"colours": {}, "means": {}}
    colours = session(out / "colours.onnx")
    for index, label in enumerate(labels):
        rgb = [0, 0, 0]
        rgb[index] = 255
        image = Image.new("RGB", (40, 40), tuple(rgb))
        image.save(out / f"{label}.png")
        fitted = np.asarray(contain(image, 32, 24), dtype=np.float32) / 255.0
        tensor = ((fitted - 0.5) / 0.5).transpose(2, 0, 1)[None]
        (logits,) = colours.run(["logits"], {"pixels": tensor})
        scores = softmax(logits[0].astype(np.float64))
        best = np.argsort(-scores, kind="stable")[:2]
        expected["colours"][f"{label}.png"] = [
            {"label": labels[i], "index": int(i), "score": float(scores[i])} for i in best
        ]

    means = session(out / "means.onnx")
    fitted = np.asarray(Image.open(photo).convert("RGB").resize((16, 16), Image.BILINEAR))
    tensor = fitted[:, :, ::-1][None].copy()  # bgr
    mean, scaled = means.run(["mean", "scaled"], {"image": tensor})
    expected["means"] = {"mean": mean.flatten().tolist(), "scaled": scaled.flatten().tolist()}
    wide = Image.open(oblong).convert("RGB")
    expected["means_fits"] = {}
    for fit, fitted in [("cover", cover(wide, 16, 16)), ("contain", contain(wide, 16, 16, pad=128))]:
        tensor = np.asarray(fitted)[:, :, ::-1][None].copy()  # bgr
        (mean,) = means.run(["mean"], {"image": tensor})
        expected["means_fits"][fit] = mean.flatten().tolist()
    print(json.dumps({"models": files, "expected": expected}))


if __name__ == "__main__":
    main()
