"""Model files: verified against the manifest; a missing or altered one stops with its name."""

import shutil

import pytest

from conftest import run_kiosk
from kiosk_models import ModelError, verify_models


def test_installed_models_match_the_manifest():
    files = verify_models()
    assert {m.name for m in files} == {"landmarks_5", "landmarks_68", "encoder"}


def test_missing_model_is_named(models_copy):
    (models_copy / "dlib_face_recognition_resnet_model_v1.dat").unlink()
    with pytest.raises(ModelError, match=r"'encoder' is missing: expected .*dlib_face_recognition_resnet_model_v1\.dat"):
        verify_models()


def test_altered_model_is_named(models_copy):
    target = models_copy / "shape_predictor_5_face_landmarks.dat"
    real = target.resolve()
    target.unlink()
    shutil.copy(real, target)
    with open(target, "ab") as f:
        f.write(b"\0")
    with pytest.raises(ModelError, match=r"shape_predictor_5_face_landmarks\.dat does not match .*sha256"):
        verify_models()


def test_self_test_reports_a_missing_model(models_copy, tmp_path):
    (models_copy / "shape_predictor_68_face_landmarks.dat").unlink()
    r = run_kiosk("self-test", cwd=tmp_path, env={"KIOSK_MODELS_DIR": str(models_copy)})
    assert r.returncode == 1
    assert "FAIL  models: ModelError: model file 'landmarks_68' is missing" in r.stdout
    assert "PASS  database" in r.stdout  # the other checks still ran
