"""The encoder: dlib's network read from its .dat, converted to ONNX, and run by onnxruntime and
OpenCV with dlib's own descriptors on real faces; where the graph lives; the fall-back to dlib."""

from __future__ import annotations

import hashlib
import json
import logging

import numpy as np
import pytest

from conftest import OBAMA, run_kiosk, write_config
from kiosk.imageio import load_rgb
from kiosk.recognition.encoder import DlibEncoder, OnnxRuntimeEncoder, OpenCVEncoder, load_encoder
from kiosk.recognition.faces import models
from kiosk_models import ModelError, model_path
from kiosk_models.convert import convert, derived, ensure_graph
from kiosk_models.dlib_dnn import DlibFormatError, read_network

# docs/encoder.md: the largest difference seen over lfw-dev and the clips is about 5e-7 per
# component (float32 sums in another order); 1e-4 is the bound the kiosk relies on.
BOUND = 1e-4


def test_reader_finds_dlibs_network_in_the_dat():
    layers, loss = read_network(model_path("encoder"))
    kinds = [layer.kind for layer in layers]
    assert kinds[0] == "input" and kinds[-1] == "fc"
    assert kinds.count("con") == 29 and kinds.count("affine") == 29 and kinds.count("add_prev") == 14
    first = layers[0].params
    assert first["size"] == 150
    np.testing.assert_allclose(first["mean"], [122.782, 117.001, 104.298], atol=1e-3)
    con1 = layers[1].params
    assert con1["weights"].shape == (32, 3, 7, 7) and con1["stride"] == 2 and con1["pad"] == 0
    strided = [layer.params for layer in layers if layer.kind == "con" and layer.params["stride"] == 2]
    assert len(strided) == 5 and all(p["pad"] == 0 for p in strided)  # dlib: no padding when strided
    assert layers[-1].params["weights"].shape == (256, 128)
    assert loss == {"margin": pytest.approx(0.04), "distance_threshold": pytest.approx(0.6)}


def test_reader_names_the_file_and_place_of_a_wrong_file(tmp_path):
    with pytest.raises(DlibFormatError, match=r"shape_predictor_5_face_landmarks\.dat: .* \(at byte \d+\)"):
        read_network(model_path("landmarks_5"))
    cut = tmp_path / "cut.dat"
    cut.write_bytes(model_path("encoder").read_bytes()[:5_000_000])
    with pytest.raises(DlibFormatError, match=r"cut\.dat: .*(end of file|does not fit)"):
        read_network(cut)


def test_conversion_is_deterministic_and_matches_the_manifest():
    a, b = convert(model_path("encoder")), convert(model_path("encoder"))
    assert a == b
    assert hashlib.sha256(a).hexdigest() == derived().sha256


@pytest.fixture(scope="module")
def chips(faces):
    """Every face the HOG detector finds (upsampling once) in the test photos, as dlib's
    reference descriptor (from the whole image) and the chip the kiosk cuts."""
    m = models("dlib")
    out = []
    for path in sorted(faces.iterdir()):
        if path.suffix not in (".jpg", ".png"):
            continue
        rgb = load_rgb(path)
        for box in m.detect(rgb, 2000, 1):
            shape = m.landmarks5(rgb, m._rect(box))
            ref = np.array(m.encoder.net.compute_face_descriptor(rgb, shape, 0), dtype=np.float32)
            out.append((path.name, ref, m.chip(rgb, box)))
    assert len(out) >= 8
    return out


@pytest.mark.parametrize("runtime", ["dlib", "onnxruntime", "opencv"])
def test_every_runtime_gives_dlibs_descriptor_on_real_faces(chips, runtime):
    enc = load_encoder(runtime, 1)
    assert enc.runtime == runtime
    got = enc.encode(np.stack([c for _, _, c in chips]))
    ref = np.stack([r for _, r, _ in chips])
    worst = np.abs(got - ref).max(axis=1)
    assert worst.max() < BOUND, dict(zip([n for n, _, _ in chips], worst))
    if runtime == "dlib":  # the chip is exactly what compute_face_descriptor cuts itself
        assert worst.max() == 0
    # one at a time (as the kiosk encodes) gives the same as a batch
    np.testing.assert_allclose(enc.encode(chips[0][2])[0], got[0], atol=1e-6)


@pytest.fixture
def models_dir(models_copy, tmp_path, monkeypatch):
    """The model files in a folder of their own (no graph yet) and an empty cache folder."""
    from kiosk_models import loader

    monkeypatch.setenv("KIOSK_MODELS_CACHE", str(tmp_path / "cache"))
    loader._verified.cache_clear()  # model paths are looked up once per process
    yield models_copy
    loader._verified.cache_clear()


GRAPH = "dlib_face_recognition_resnet_model_v1.onnx"


def test_graph_is_made_next_to_the_model_and_remade_when_altered(models_dir):
    path = ensure_graph()
    assert path == models_dir / GRAPH and oct(path.stat().st_mode & 0o777) == "0o644"
    path.write_bytes(path.read_bytes()[:-1] + b"\0")  # altered: never used, converted again
    assert ensure_graph() == path
    assert hashlib.sha256(path.read_bytes()).hexdigest() == derived().sha256
    assert not list(models_dir.glob(".*"))  # no temporary file left behind


def test_graph_goes_to_the_cache_when_the_model_folder_refuses_it(models_dir, tmp_path):
    (models_dir / GRAPH).mkdir()  # something that is not the graph and cannot be replaced
    path = ensure_graph()
    assert path == tmp_path / "cache" / GRAPH
    assert OnnxRuntimeEncoder(path, 1).encode(np.zeros((150, 150, 3), np.uint8)).shape == (1, 128)


def test_kiosk_falls_back_to_dlib_with_a_log_line_when_the_graph_cannot_be_trusted(
        models_dir, monkeypatch, caplog):
    import kiosk_models.convert as conv

    wrong = conv.Derived(**{**derived().__dict__, "sha256": "0" * 64})
    monkeypatch.setattr(conv, "derived", lambda *a, **k: wrong)
    with caplog.at_level(logging.WARNING):
        enc = load_encoder("onnxruntime", 1)
    assert isinstance(enc, DlibEncoder)
    assert "using dlib instead of onnxruntime" in caplog.text and "gave a graph with sha256" in caplog.text
    with pytest.raises(ModelError, match="the graph is not used"):
        ensure_graph(wrong)
    assert not (models_dir / GRAPH).exists()


def test_kiosk_falls_back_to_dlib_when_the_runtime_crashes_at_import(tmp_path, monkeypatch, caplog):
    """ONNX Runtime aborts the process (no Python exception) where it cannot read the CPU
    list; the kiosk finds that out in a child process and keeps running on dlib."""
    from kiosk.recognition import encoder

    (tmp_path / "onnxruntime.py").write_text("import os\nos.abort()\n")  # what the C++ terminate does
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setattr(encoder, "_probed", {})
    with caplog.at_level(logging.WARNING):
        enc = load_encoder("onnxruntime", 1)
    assert isinstance(enc, DlibEncoder)
    assert "using dlib instead of onnxruntime" in caplog.text and "importing onnxruntime failed (exit -6)" in caplog.text


def test_kiosk_falls_back_to_dlib_when_the_runtime_is_missing(monkeypatch, caplog):
    import builtins

    real_import = builtins.__import__

    def no_onnxruntime(name, *a, **k):
        if name == "onnxruntime":
            raise ImportError("No module named 'onnxruntime'")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_onnxruntime)
    with caplog.at_level(logging.WARNING):
        enc = load_encoder("onnxruntime", 1)
    assert isinstance(enc, DlibEncoder) and "onnxruntime cannot be used here" in caplog.text


def test_opencv_runtime_loads_the_same_graph():
    assert isinstance(load_encoder("opencv", 1), OpenCVEncoder)


def test_templates_enrolled_with_dlib_are_recognised_by_the_new_runtime(tmp_path, faces, photo_root, roster):
    """Switching the runtime needs no re-enrollment: identify gives the same distances and
    decisions whichever encoder made the templates or the probe."""
    work = tmp_path / "kiosk"
    work.mkdir()
    write_config(work / "config.toml", '[recognition]\nencoder = "dlib"\n')
    r = run_kiosk("enroll", str(photo_root), "--roster", str(roster), "--workers", "1", cwd=work)
    assert r.returncode == 0, r.stdout + r.stderr
    # photos that were not enrolled: a probe equal to a template sits at distance zero, where the
    # gallery's float32 |a|^2 + |b|^2 - 2ab formula itself leaves about 1e-3 (docs/encoder.md)
    probes = [str(faces / n) for n in ("obama3.jpg", "grace_hopper.jpg", "obama.jpg")]
    out = {}
    for runtime in ("dlib", "onnxruntime"):
        write_config(work / "config.toml", f'[recognition]\nencoder = "{runtime}"\n')
        r = run_kiosk("identify", *probes, cwd=work)
        assert r.returncode == 0, r.stderr
        out[runtime] = [json.loads(line) for line in r.stdout.splitlines()]
    for a, b in zip(out["dlib"], out["onnxruntime"]):
        assert (a["employee_id"], a["reason"]) == (b["employee_id"], b["reason"])
    obama3, hopper, enrolled_photo = zip(out["dlib"], out["onnxruntime"])
    for a, b in (obama3, hopper):
        assert abs(a["distance"] - b["distance"]) <= 1e-4  # printed to 4 decimals
    assert obama3[1]["employee_id"] == OBAMA and hopper[1]["reason"] == "unknown"
    assert enrolled_photo[1]["employee_id"] == OBAMA and enrolled_photo[1]["distance"] < 0.01


def test_self_test_names_the_encoder(tmp_path, faces):
    r = run_kiosk("self-test", "--photo", str(faces / "obama.jpg"), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "encoder onnxruntime" in r.stdout

