"""The model files the kiosk loads: their manifest and a verifying loader."""

from kiosk_models.loader import ModelError, ModelFile, ENCODER_VERSION, model_path, verify_models

__all__ = ["ModelError", "ModelFile", "ENCODER_VERSION", "model_path", "verify_models"]
