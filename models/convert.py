"""dlib's face-recognition ResNet as an ONNX graph: the same weights, the same arithmetic.

The ``.dat`` from face_recognition_models stays the source of truth: this module reads it
(models/dlib_dnn.py), writes the same network as an ONNX graph, and records nothing but the
graph's sha256 in models/manifest.toml (``[[derived]]``). The graph is a pure function of the
``.dat`` and ``CONVERTER_VERSION``: converting twice, or on another machine, gives the same
bytes, so a graph whose hash differs from the manifest is never used.

Layer by layer (dlib's definitions: dlib/dnn/input.h, layers.h, cpu_dlib.cpp):

* ``input_rgb_image_sized<150>``: (pixel - channel mean) / 256 with the means stored in the file
  (122.782, 117.001, 104.298 for R, G, B): Sub, then Mul by 1/256 (exact in float32).
* ``con``: cross-correlation with a bias; dlib pads by half the filter when the stride is 1 and
  not at all when it is 2, and the padding is stored in the file and checked: Conv.
* ``affine`` (batch normalisation frozen at training's end): channel * gamma + beta. Folded into
  the convolution under it (weights * gamma, bias * gamma + beta), as dlib's own
  ``fuse_convolutions`` does; it changes only float rounding (see docs/encoder.md).
* ``relu``, ``max_pool<3,3,2,2>`` (no padding), ``avg_pool<2,2,2,2>`` (no padding),
  ``avg_pool_everything``: Relu, MaxPool, AveragePool, GlobalAveragePool.
* ``add_prev``: the sum of two tensors whose shapes may differ; dlib's output takes the larger
  of each dimension and treats what is missing as zero, aligned at channel 0 and the top-left
  corner (in this network: 32 channels added to 64, and a 3x3 block output added to a 4x4 pooled
  one): Pad with zeros at the end of each short dimension, then Add.
* ``fc_no_bias<128>``: the 256 averaged channels times a 256x128 matrix: Flatten, MatMul. The
  output is the descriptor as dlib returns it (``loss_metric`` does not normalise it).

``python -m kiosk_models.convert`` converts at setup (scripts/setup.sh, the SD-card image) and
prints where the graph went; ``ensure_graph()`` finds or makes it at start-up.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kiosk_models.dlib_dnn import Layer, read_network
from kiosk_models.loader import MANIFEST, ModelError, model_path, sha256_of

log = logging.getLogger(__name__)

# Bump when the graph written for the same .dat changes (and update the manifest's hash).
CONVERTER_VERSION = 1
OPSET = 13
INPUT, OUTPUT = "chip", "descriptor"


@dataclass(frozen=True)
class Derived:
    """A file made from a model file (manifest ``[[derived]]``)."""

    name: str
    file: str
    source: str
    converter_version: int
    sha256: str
    purpose: str


def derived(name: str = "encoder_onnx", manifest: Path = MANIFEST) -> Derived:
    data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    for entry in data.get("derived", []):
        if entry["name"] == name:
            return Derived(**entry)
    raise ModelError(f"no derived model named {name!r} in {manifest}")


# --- the graph -----------------------------------------------------------------------------

def build_graph(layers: list[Layer], fold_affine: bool = True):
    """The ONNX model of `layers` (models/dlib_dnn.py's execution order)."""
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    counter = [0]

    def const(array: np.ndarray, hint: str) -> str:
        counter[0] += 1
        name = f"{hint}_{counter[0]}"
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(op: str, inputs: list[str], hint: str, **attrs) -> str:
        counter[0] += 1
        out = f"{hint}_{counter[0]}"
        nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    first = layers[0]
    assert first.kind == "input"
    size = first.params["size"]
    x = node("Sub", [INPUT, const(first.params["mean"].reshape(1, 3, 1, 1), "mean")], "centred")
    x = node("Mul", [x, const(np.array([1 / 256], np.float32), "scale")], "input")
    shape = (3, size, size)  # channels, rows, columns
    tags: dict[int, tuple[str, tuple]] = {}
    i = 1
    while i < len(layers):
        layer, p = layers[i], layers[i].params
        if layer.kind == "con":
            w, b = p["weights"], p["bias"]
            nxt = layers[i + 1] if i + 1 < len(layers) else None
            if fold_affine and nxt is not None and nxt.kind == "affine":
                g, beta = nxt.params["gamma"], nxt.params["beta"]
                w = w * g.reshape(-1, 1, 1, 1)
                b = b * g + beta
                i += 1
            k, s, pad = w.shape[2], p["stride"], p["pad"]
            x = node("Conv", [x, const(w.astype(np.float32), "w"), const(b.astype(np.float32), "b")], "conv",
                     kernel_shape=[k, k], strides=[s, s], pads=[pad] * 4)
            side = (shape[1] + 2 * pad - k) // s + 1
            shape = (w.shape[0], side, side)
        elif layer.kind == "affine":
            c = shape[0]
            x = node("Mul", [x, const(p["gamma"].reshape(1, c, 1, 1), "gamma")], "affine")
            x = node("Add", [x, const(p["beta"].reshape(1, c, 1, 1), "beta")], "affine")
        elif layer.kind == "relu":
            x = node("Relu", [x], "relu")
        elif layer.kind in ("max_pool", "avg_pool"):
            k, s, pad = p["size"], p["stride"], p["pad"]
            if k == 0:  # avg_pool_everything
                x = node("GlobalAveragePool", [x], "avg_all")
                shape = (shape[0], 1, 1)
            else:
                op = "MaxPool" if layer.kind == "max_pool" else "AveragePool"
                x = node(op, [x], layer.kind, kernel_shape=[k, k], strides=[s, s], pads=[pad] * 4)
                side = (shape[1] + 2 * pad - k) // s + 1
                shape = (shape[0], side, side)
        elif layer.kind == "tag":
            tags[p["tag"]] = (x, shape)
        elif layer.kind == "skip":
            x, shape = tags[p["tag"]]
        elif layer.kind == "add_prev":
            other, other_shape = tags[p["tag"]]
            out_shape = tuple(max(a, b) for a, b in zip(shape, other_shape))
            a = _zero_pad(x, shape, out_shape, node, const)
            b = _zero_pad(other, other_shape, out_shape, node, const)
            x, shape = node("Add", [a, b], "add"), out_shape
        elif layer.kind == "fc":
            w = p["weights"]
            if w.shape[0] != shape[0] * shape[1] * shape[2]:
                raise ModelError(f"fc layer takes {w.shape[0]} inputs, the network gives {shape}")
            x = node("Flatten", [x], "flat", axis=1)
            x = node("MatMul", [x, const(w, "fc")], "fc")
        else:
            raise ModelError(f"no ONNX translation for a {layer.kind} layer")
        i += 1
    nodes[-1].output[0] = OUTPUT
    graph = helper.make_graph(
        nodes, "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["N", 128])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="kiosk_models.convert", producer_version=str(CONVERTER_VERSION))
    model.ir_version = 7  # what opset 13 needs; readable by older runtimes too
    model.doc_string = ("dlib_face_recognition_resnet_model_v1 (face_recognition_models), converted by "
                        f"kiosk_models.convert {CONVERTER_VERSION}. Input: RGB face chips "
                        "(get_face_chip, 150 px, padding 0.25), float32 0-255, NCHW. Output: dlib's 128-d descriptor.")
    return model


def _zero_pad(x: str, shape: tuple, out_shape: tuple, node, const) -> str:
    """`x` padded with zeros after its last channel, row and column up to `out_shape`."""
    if shape == out_shape:
        return x
    extra = [o - s for o, s in zip(out_shape, shape)]
    pads = np.array([0, 0, 0, 0, 0, *extra], dtype=np.int64)  # begins (N,C,H,W), then ends
    return node("Pad", [x, const(pads, "pads")], "pad", mode="constant")


def convert(dat: Path, fold_affine: bool = True) -> bytes:
    """The ONNX graph of dlib's network in `dat`, serialised (the same bytes every time)."""
    layers, _ = read_network(dat)
    return build_graph(layers, fold_affine).SerializeToString(deterministic=True)


# --- where the graph lives -----------------------------------------------------------------

def cache_dir() -> Path:
    """Where a graph is written when the model package's folder is read-only (the kiosk user
    on the SD-card image): $KIOSK_MODELS_CACHE, else $XDG_CACHE_HOME/kiosk, else ~/.cache/kiosk."""
    if os.environ.get("KIOSK_MODELS_CACHE"):
        return Path(os.environ["KIOSK_MODELS_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "kiosk"


def graph_locations(entry: Derived | None = None) -> list[Path]:
    """Next to the .dat first (where setup writes it), then the cache folder."""
    entry = entry or derived()
    name = Path(entry.file).name
    return [model_path(entry.source).with_name(name), cache_dir() / name]


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # model weights, not personal data
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ensure_graph(entry: Derived | None = None) -> Path:
    """The verified graph's path, converting from the verified .dat if no valid copy exists.

    Raises ModelError (naming the file and both hashes) when the conversion does not give the
    graph the manifest names, or when no location is writable."""
    entry = entry or derived()
    if entry.converter_version != CONVERTER_VERSION:
        raise ModelError(f"{MANIFEST} lists {entry.name} for converter version {entry.converter_version}, "
                         f"this is kiosk_models.convert {CONVERTER_VERSION}: update the manifest")
    places = graph_locations(entry)
    for path in places:
        if path.is_file():
            digest = sha256_of(path)
            if digest == entry.sha256:
                return path
            log.warning("encoder graph %s has sha256 %s, the manifest %s expects %s: converting again",
                        path, digest, MANIFEST, entry.sha256)
    dat = model_path(entry.source)
    data = convert(dat)
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.sha256:
        raise ModelError(
            f"converting {dat} (kiosk_models.convert {CONVERTER_VERSION}) gave a graph with sha256 "
            f"{digest}, but {MANIFEST} expects {entry.sha256}; the graph is not used")
    problems = []
    for path in places:
        try:
            _write_atomic(path, data)
        except OSError as e:
            problems.append(f"{path.parent}: {e.strerror or e}")
            continue
        log.info("encoder graph written to %s (converted from %s)", path, dat)
        return path
    raise ModelError("cannot write the encoder graph: " + "; ".join(problems))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kiosk_models.convert",
        description="Write dlib's face-recognition network as an ONNX graph next to the model file "
                    "(or in the cache folder), verified against models/manifest.toml.")
    parser.add_argument("--print-hash", action="store_true",
                        help="convert in memory and print the graph's sha256 (to update the manifest)")
    parser.add_argument("--output", type=Path, help="write the graph to this file instead (no hash check)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        entry = derived()
        if args.print_hash or args.output:
            data = convert(model_path(entry.source))
            if args.output:
                _write_atomic(args.output, data)
                print(f"wrote {args.output}")
            if args.print_hash:
                print(f"{entry.name} {hashlib.sha256(data).hexdigest()}")
            return 0
        print(f"ok {entry.name} {ensure_graph(entry)}")
        return 0
    except ModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
