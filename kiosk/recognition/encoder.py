"""The 128-d face encoder behind one interface, with two ways to run it.

* ``dlib``: dlib's own ``face_recognition_model_v1`` (the reference; what face_recognition
  uses). The prebuilt dlib wheels have no BLAS, so its convolutions are slow: about 75-85 ms per
  face on this 2-core x86 VM, several hundred ms on a Pi.
* ``onnxruntime`` (default) or ``opencv``: the same network, converted from the same verified
  ``.dat`` into an ONNX graph (models/convert.py), run by ONNX Runtime or by OpenCV's DNN module.
  Same templates to float precision (largest difference from dlib's descriptor 5.4e-7 per
  component over lfw-dev and the clips; docs/encoder.md), about 0.12x (onnxruntime) and 0.13x
  (opencv) of dlib's time here.

Every runtime takes the same input: the face chip dlib's ``get_face_chip`` cuts from the frame
with the 5 landmarks (150 px, padding 0.25), which is what dlib's ``compute_face_descriptor``
cuts internally. ``load_encoder`` falls back to dlib, with a warning in the log naming the
reason, when the graph is missing and cannot be made, when its hash differs from the manifest,
or when the runtime is not installed: the kiosk still recognises people, only more slowly.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

RUNTIMES = ("onnxruntime", "opencv", "dlib")
DEFAULT_RUNTIME = "onnxruntime"
CHIP_SIZE = 150
CHIP_PADDING = 0.25


def default_threads() -> int:
    """Half the cores, at least one: the recognition worker shares the CPU with the window
    process (camera, preview) and the OS; on a 4-core Pi this gives 2."""
    return max(1, (os.cpu_count() or 1) // 2)


def to_nchw(chips) -> np.ndarray:
    """(N, 150, 150, 3) uint8 RGB chips as the graph's float32 NCHW input (0-255)."""
    x = np.asarray(chips)
    if x.ndim == 3:
        x = x[None]
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32)


class Encoder:
    """Maps face chips to dlib's 128-d descriptors."""

    runtime = "?"
    threads = 1

    def encode(self, chips) -> np.ndarray:
        """(N, 150, 150, 3) uint8 RGB chips (or one chip) -> (N, 128) float32 descriptors."""
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.runtime}, {self.threads} thread{'s' if self.threads != 1 else ''}"


class DlibEncoder(Encoder):
    runtime = "dlib"

    def __init__(self, dat: Path):
        import dlib

        self.net = dlib.face_recognition_model_v1(str(dat))

    def encode(self, chips) -> np.ndarray:
        chips = [chips] if np.ndim(chips) == 3 else list(chips)
        # the overload for aligned 150x150 chips: the same network, no second alignment
        return np.array([self.net.compute_face_descriptor(np.ascontiguousarray(c), 0) for c in chips],
                        dtype=np.float32).reshape(len(chips), 128)


class OnnxRuntimeEncoder(Encoder):
    runtime = "onnxruntime"

    def __init__(self, graph: Path, threads: int):
        import onnxruntime as ort

        from kiosk_models.convert import INPUT, OUTPUT

        self.threads, self.input, self.output = threads, INPUT, OUTPUT
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # fusions (Conv+Add+Relu ...) but not the x86 NCHWc re-layout: that one was about 1.3x
        # faster here but kept a second copy of the weights, +44 MiB of RSS (docs/encoder.md)
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        # idle threads sleep instead of spinning: a spinning pool burns the core the window needs
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.log_severity_level = 3
        self.session = ort.InferenceSession(str(graph), so, providers=["CPUExecutionProvider"])

    def encode(self, chips) -> np.ndarray:
        return self.session.run([self.output], {self.input: to_nchw(chips)})[0]


class OpenCVEncoder(Encoder):
    runtime = "opencv"

    def __init__(self, graph: Path, threads: int):
        import cv2

        self.threads = threads
        cv2.setNumThreads(threads)  # process-wide; the worker process has no other OpenCV work
        self.net = cv2.dnn.readNetFromONNX(str(graph))

    def encode(self, chips) -> np.ndarray:
        x = to_nchw(chips)
        self.net.setInput(x)
        return np.asarray(self.net.forward(), dtype=np.float32).reshape(len(x), 128)


_probed: dict[str, str | None] = {}


def import_problem(module: str) -> str | None:
    """Why `module` cannot be imported here, found in a child process (once per process).

    ONNX Runtime's CPU detection aborts the whole process (C++ terminate, no Python exception)
    on some ARM systems whose /sys does not list the processors: imported straight into the
    recognition worker, that would crash it at every restart and leave the kiosk without
    recognition, instead of falling back to dlib."""
    if module not in _probed:
        try:
            p = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True,
                               timeout=120)
            tail = " ".join(p.stderr.strip().splitlines()[-2:])
            _probed[module] = None if p.returncode == 0 else f"importing {module} failed (exit {p.returncode}): {tail}"
        except (OSError, subprocess.TimeoutExpired) as e:
            _probed[module] = f"importing {module} failed: {e}"
    return _probed[module]


def load_encoder(runtime: str = DEFAULT_RUNTIME, threads: int = 0) -> Encoder:
    """The encoder for `runtime` (one of RUNTIMES) with `threads` intra-op threads (0: half the
    cores); dlib, with a warning naming the reason, when the converted graph cannot be used."""
    from kiosk_models import model_path

    dat = model_path("encoder")  # verified; a bad .dat stops the kiosk whatever the runtime
    if runtime == "dlib":
        return DlibEncoder(dat)
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown encoder runtime {runtime!r} (one of {', '.join(RUNTIMES)})")
    threads = threads or default_threads()
    from kiosk_models import ModelError
    from kiosk_models.convert import ensure_graph

    try:
        graph = ensure_graph()
        problem = import_problem("onnxruntime") if runtime == "onnxruntime" else None
        if problem:
            raise ImportError(problem)
        enc = (OnnxRuntimeEncoder if runtime == "onnxruntime" else OpenCVEncoder)(graph, threads)
        log.info("encoder: %s on %s", enc.describe(), graph)
        return enc
    except ModelError as e:
        reason = str(e)
    except ImportError as e:
        reason = f"{runtime} cannot be used here ({e}); it is pinned in requirements.txt"
    except Exception as e:  # the runtime refused the graph: never leave the kiosk without an encoder
        reason = f"{runtime} cannot load the encoder graph: {type(e).__name__}: {e}"
    log.warning("encoder: using dlib instead of %s (same templates, about 7x slower): %s", runtime, reason)
    return DlibEncoder(dat)
