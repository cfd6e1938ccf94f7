"""Read any photo HR may hand over into a plain 8-bit RGB array, or say clearly why not.

Handles what turns up in real folders: CMYK JPEGs from print shops, 16-bit PNGs from scanners,
alpha channels and palettes from screenshots, EXIF rotation from phones, and huge camera files
(decoded at reduced size, then downscaled, before detection ever sees them).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Longest side handed to detection. A frontal face in an enrollment photo is rarely under a
# fifth of the picture, so 1600 px keeps it above 300 px while bounding the detector's cost.
MAX_SIDE = 1600
# Refuse absurd files outright instead of letting Pillow allocate gigabytes.
MAX_PIXELS = 120_000_000


class ImageReadError(ValueError):
    """The file is not a usable image; the message names the file and the problem."""


def load_rgb(path: str | Path, max_side: int = MAX_SIDE) -> np.ndarray:
    """Decode `path` to a contiguous HxWx3 uint8 RGB array no larger than `max_side`."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path)
            if img.width * img.height > MAX_PIXELS:
                raise ImageReadError(
                    f"{path}: image is {img.width}x{img.height} pixels, more than "
                    f"{MAX_PIXELS // 1_000_000} megapixels; resize it before enrolling"
                )
            # JPEG only: decode at 1/2, 1/4 or 1/8 scale straight away (cheap and memory-light).
            img.draft("RGB", (max_side, max_side))
            img = ImageOps.exif_transpose(img)
            arr = to_rgb8(img, path)
    except ImageReadError:
        raise
    except FileNotFoundError:
        raise ImageReadError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ImageReadError(f"{path}: is a folder, not an image") from None
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not an image file (or a format Pillow cannot read)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageReadError(f"{path}: image is too large to decode safely ({e}); resize it first") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageReadError(f"{path}: image is damaged or truncated ({e})") from None
    return downscale(arr, max_side)


def to_rgb8(img: Image.Image, path: Path | str = "<image>") -> np.ndarray:
    """Convert any Pillow mode to 8-bit RGB; transparency is flattened onto white."""
    img.load()
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        a = np.asarray(img, dtype=np.float64)
        top = a.max() if a.size else 0
        scale = 255.0 / (65535.0 if top > 255 else 255.0)
        grey = np.clip(a * scale, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.stack([grey] * 3, axis=-1))
    if mode == "F":
        a = np.asarray(img, dtype=np.float64)
        grey = np.clip(a * (255.0 if a.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.stack([grey] * 3, axis=-1))
    if mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    if img.mode != "RGB":
        img = img.convert("RGB")  # CMYK, YCbCr, L, 1, LAB ...
    arr = np.asarray(img)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.size == 0:
        raise ImageReadError(f"{path}: unsupported image layout {mode} {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.uint8)


def downscale(rgb: np.ndarray, max_side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    if max(h, w) <= max_side:
        return rgb
    import cv2

    f = max_side / max(h, w)
    return cv2.resize(rgb, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


def face_jpeg(rgb: np.ndarray, box, width: int, pad: float = 0.25, quality: int = 80) -> bytes:
    """A small JPEG of the face in `box` with a margin (HR's review thumbnails, liveness
    snapshots); empty bytes if it cannot be encoded."""
    import cv2

    l, t, r, b = box.as_list()
    p = int((r - l) * pad)
    crop = rgb[max(0, t - p):b + p, max(0, l - p):r + p]
    if crop.size == 0:
        return b""
    crop = cv2.resize(crop, (width, max(1, round(width * crop.shape[0] / max(1, crop.shape[1])))))
    ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return jpg.tobytes() if ok else b""
