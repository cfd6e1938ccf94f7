"""Read dlib's face-recognition ResNet from its own serialization format into numpy arrays.

``read_network(path)`` returns the layers of face_recognition_models'
``dlib_face_recognition_resnet_model_v1.dat`` in execution order (input first), each a
``Layer`` with its weights as float32 arrays, so that models/convert.py can write the same
network as a graph for a faster runtime. Pure Python and numpy: no compiler, no download.

The format, as dlib's sources define it (dlib/serialize.h, dlib/float_details.h,
dlib/dnn/core.h, tensor.h, layers.h, input.h, loss.h):

* an integer is a control byte (bit 7: negative; bits 0-3: how many bytes follow) and then its
  absolute value in that many little-endian bytes; a bool is the ASCII byte '1' or '0'; a
  string is its length (an integer) and its bytes;
* a float or double is two integers, a signed 64-bit mantissa and then a 16-bit exponent:
  value = mantissa * 2**exponent (exponents 32000-32002 mean +inf, -inf, NaN);
* a tensor is version 2, its four dimensions (samples, k, rows, columns), then the values as
  little-endian IEEE float32; an alias_tensor (a view into a layer's parameters) is version 1 and
  the four dimensions only;
* layers nest: the loss layer writes its version, its details and then the network under it;
  every other layer writes its version, then the network under it, then its own details and some
  training state (empty tensors in a saved model). So the bottom of the network comes first in
  the file, and tags (``tag1``, ``skip1``, ``add_prev1``) are not written at all: which layer a
  tag refers to comes from the network's type, which is fixed in C++ (``anet_type`` in
  dlib's examples/dnn_face_recognition_ex.cpp). ``ANET`` below spells out that type, and the
  reader checks every layer's name, shape and parameter count against it, so a different file
  fails with a message naming the layer and the byte offset instead of producing a wrong graph.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class DlibFormatError(ValueError):
    """The file is not the network ANET describes (or not a dlib network at all)."""


@dataclass
class Layer:
    """One step of the network in execution order.

    kind: input | con | affine | relu | max_pool | avg_pool | tag | skip | add_prev | fc
    """

    kind: str
    params: dict = field(default_factory=dict)


# --- the network's type --------------------------------------------------------------------

def _block(n: int, stride: int) -> list[tuple]:
    # block<N,affine,stride,SUB> = affine<con<N,3,3,1,1,relu<affine<con<N,3,3,stride,stride,SUB>>>>>
    return [("affine",), ("con", n, 3, 1), ("relu",), ("affine",), ("con", n, 3, stride)]


def _ares(n: int) -> list[tuple]:
    # relu<add_prev1<block<N,affine,1,tag1<SUB>>>>
    return [("relu",), ("add_prev", 1), *_block(n, 1), ("tag", 1)]


def _ares_down(n: int) -> list[tuple]:
    # relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,affine,2,tag1<SUB>>>>>>>
    return [("relu",), ("add_prev", 2), ("avg_pool", 2, 2), ("skip", 1), ("tag", 2),
            *_block(n, 2), ("tag", 1)]


# anet_type from the top (under the loss layer) to the input, as dlib nests it.
ANET: list[tuple] = [
    ("fc", 128),
    ("avg_pool", 0, 1),  # avg_pool_everything
    *_ares_down(256),  # alevel0
    *_ares(256), *_ares(256), *_ares_down(256),  # alevel1
    *_ares(128), *_ares(128), *_ares_down(128),  # alevel2
    *_ares(64), *_ares(64), *_ares(64), *_ares_down(64),  # alevel3
    *_ares(32), *_ares(32), *_ares(32),  # alevel4
    ("max_pool", 3, 2), ("relu",), ("affine",), ("con", 32, 7, 2),
    ("input", 150),
]


# --- primitives ----------------------------------------------------------------------------

class _Reader:
    def __init__(self, data: bytes, name: str):
        self.data, self.pos, self.name = data, 0, name

    def fail(self, what: str) -> DlibFormatError:
        return DlibFormatError(f"{self.name}: {what} (at byte {self.pos})")

    def int(self) -> int:
        if self.pos >= len(self.data):
            raise self.fail("unexpected end of file")
        control = self.data[self.pos]
        size = control & 0x0F
        if size > 8 or control & 0x70:
            raise self.fail(f"not a dlib integer (control byte {control:#04x})")
        raw = self.data[self.pos + 1:self.pos + 1 + size]
        if len(raw) != size:
            raise self.fail("unexpected end of file")
        self.pos += 1 + size
        value = int.from_bytes(raw, "little")
        return -value if control & 0x80 else value

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        if exponent < 32000:
            return math.ldexp(mantissa, exponent)
        return {32000: math.inf, 32001: -math.inf}.get(exponent, math.nan)

    def bool(self) -> bool:
        if self.pos >= len(self.data) or self.data[self.pos] not in b"01":
            raise self.fail("expected a bool ('0' or '1')")
        self.pos += 1
        return self.data[self.pos - 1] == ord("1")

    def string(self) -> str:
        n = self.int()
        raw = self.data[self.pos:self.pos + n]
        if len(raw) != n:
            raise self.fail("unexpected end of file")
        self.pos += n
        return raw.decode("latin-1")

    def version(self, allowed: tuple[int, ...], what: str) -> int:
        at = self.pos
        v = self.int()
        if v not in allowed:
            self.pos = at
            raise self.fail(f"{what}: unexpected version {v} (expected {' or '.join(map(str, allowed))})")
        return v

    def name_of(self, allowed: tuple[str, ...], what: str) -> str:
        at = self.pos
        try:
            s = self.string()
        except DlibFormatError:
            s = ""
        if s not in allowed:
            self.pos = at
            raise self.fail(f"expected the {what} layer ({' or '.join(allowed)}), found {s[:40]!r}")
        return s

    def tensor(self) -> np.ndarray:
        self.version((2,), "tensor")
        shape = tuple(self.int() for _ in range(4))
        count = math.prod(shape)
        if min(shape) < 0 or self.pos + 4 * count > len(self.data):
            raise self.fail(f"tensor of shape {shape} does not fit in the file")
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos)
        self.pos += 4 * count
        return values.astype(np.float32).reshape(shape)

    def alias(self) -> tuple[int, int, int, int]:
        self.version((1,), "alias_tensor")
        return tuple(self.int() for _ in range(4))


# --- layers --------------------------------------------------------------------------------

def _details(r: _Reader, spec: tuple, depth: int) -> Layer:
    """The layer-specific part of one add_layer, checked against its spec."""
    kind = spec[0]
    where = f"layer {depth} from the top ({kind})"
    if kind == "con":
        _, filters, size, stride = spec
        version = r.name_of(("con_4", "con_5"), where)
        params = r.tensor().reshape(-1)
        num_filters, nr, nc = r.int(), r.int(), r.int()
        stride_y, stride_x, pad_y, pad_x = r.int(), r.int(), r.int(), r.int()
        fshape, bshape = r.alias(), r.alias()
        for _ in range(4):  # learning-rate and weight-decay multipliers (training only)
            r.float()
        use_bias = r.bool() if version == "con_5" else True
        # dlib's default padding: none for strided convolutions, half the filter otherwise
        want_pad = 0 if stride != 1 else size // 2
        if (num_filters, nr, nc, stride_y, stride_x, pad_y, pad_x) != (filters, size, size, stride, stride, want_pad, want_pad):
            raise r.fail(f"{where}: found con<{num_filters},{nr},{nc},{stride_y},{stride_x}> padding "
                         f"{pad_y},{pad_x}; expected con<{filters},{size},{size},{stride},{stride}> padding {want_pad}")
        n_w = math.prod(fshape)
        if fshape[0] != filters or fshape[2:] != (size, size) or len(params) != n_w + (filters if use_bias else 0):
            raise r.fail(f"{where}: parameter sizes do not match (filters {fshape}, {len(params)} values)")
        weights = params[:n_w].reshape(fshape)
        bias = params[n_w:n_w + filters] if use_bias else np.zeros(filters, np.float32)
        return Layer("con", {"weights": weights, "bias": bias, "stride": stride, "pad": want_pad})
    if kind == "affine":
        version = r.name_of(("affine_", "affine_2"), where)
        params = r.tensor().reshape(-1)
        gshape, bshape = r.alias(), r.alias()
        mode = r.int()
        disabled = r.bool() if version == "affine_2" else False
        k = math.prod(gshape)
        if mode != 0 or gshape != bshape or gshape[0] != 1 or gshape[2:] != (1, 1) or len(params) != 2 * k or disabled:
            raise r.fail(f"{where}: expected a per-channel affine layer (CONV_MODE), found mode {mode}, "
                         f"gamma {gshape}, {len(params)} values, disabled={disabled}")
        return Layer("affine", {"gamma": params[:k], "beta": params[k:]})
    if kind == "relu":
        r.name_of(("relu_",), where)
        return Layer("relu")
    if kind in ("max_pool", "avg_pool"):
        _, size, stride = spec
        r.name_of((f"{kind}_2",), where)
        nr, nc, stride_y, stride_x, pad_y, pad_x = (r.int() for _ in range(6))
        want_pad = 0 if stride != 1 else size // 2
        if (nr, nc, stride_y, stride_x, pad_y, pad_x) != (size, size, stride, stride, want_pad, want_pad):
            raise r.fail(f"{where}: found window {nr}x{nc}, stride {stride_y},{stride_x}, padding "
                         f"{pad_y},{pad_x}; expected {size}x{size}, stride {stride}, padding {want_pad}")
        return Layer(kind, {"size": size, "stride": stride, "pad": want_pad})
    if kind == "add_prev":
        r.name_of(("add_prev_",), where)
        return Layer("add_prev", {"tag": spec[1]})
    if kind == "fc":
        version = r.name_of(("fc_2", "fc_3"), where)
        num_outputs, num_inputs = r.int(), r.int()
        params = r.tensor().reshape(-1)
        wshape, bshape = r.alias(), r.alias()
        bias_mode = r.int()
        for _ in range(4):
            r.float()
        if version == "fc_3":
            r.bool()
        if num_outputs != spec[1] or bias_mode != 1 or wshape[:2] != (num_inputs, num_outputs) or len(params) != num_inputs * num_outputs:
            raise r.fail(f"{where}: expected fc_no_bias<{spec[1]}>, found {num_outputs} outputs, bias mode "
                         f"{bias_mode}, weights {wshape}, {len(params)} values")
        return Layer("fc", {"weights": params.reshape(num_inputs, num_outputs)})
    raise AssertionError(kind)


def _input(r: _Reader, spec: tuple) -> Layer:
    r.name_of(("input_rgb_image_sized",), "input")
    avg = [r.float() for _ in range(3)]
    nr, nc = r.int(), r.int()
    if (nr, nc) != (spec[1], spec[1]):
        raise r.fail(f"input: the network takes {nr}x{nc} images, expected {spec[1]}x{spec[1]}")
    return Layer("input", {"size": nr, "mean": np.array(avg, dtype=np.float32)})


def _network(r: _Reader, depth: int, out: list[Layer]) -> None:
    """Read ANET[depth:] (a layer and everything under it), appending in execution order."""
    spec = ANET[depth]
    kind = spec[0]
    if kind == "input":
        out.append(_input(r, spec))
        return
    if kind in ("tag", "skip"):
        r.version((1,), f"{kind}{spec[1]} (layer {depth} from the top)")
        if ANET[depth + 1][0] == "input":
            raise r.fail("a tag directly on the input layer is not supported")
        _network(r, depth + 1, out)
        out.append(Layer(kind, {"tag": spec[1]}))
        return
    on_input = ANET[depth + 1][0] == "input"
    # add_layer: versions 1-2 in general, 2-3 for the layer right on the input
    version = r.version((2, 3) if on_input else (1, 2), f"add_layer {depth} from the top ({kind})")
    _network(r, depth + 1, out)
    out.append(_details(r, spec, depth))
    for _ in range(3):  # setup called, gradient stale, getters disabled
        r.bool()
    for _ in range(2):  # x_grad, cached_output (empty in a saved model)
        r.tensor()
    if on_input:
        r.tensor()  # grad_final
        if version == 3:
            r.int()  # sample expansion factor
    elif version == 2:
        r.tensor()  # params_grad


def read_network(path: Path) -> tuple[list[Layer], dict]:
    """The layers of the face-recognition network in execution order, and the loss layer's
    settings (margin and distance threshold of dlib's metric loss, for the record)."""
    path = Path(path)
    r = _Reader(path.read_bytes(), str(path))
    r.version((1,), "add_loss_layer")
    r.name_of(("loss_metric_2",), "loss_metric")
    loss = {"margin": r.float(), "distance_threshold": r.float()}
    layers: list[Layer] = []
    _network(r, 0, layers)
    if r.pos != len(r.data):
        raise r.fail(f"{len(r.data) - r.pos} bytes left after the network")
    return layers, loss
