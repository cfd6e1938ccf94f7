"""Photos as HR hands them over: odd modes, huge files and non-images, each with a clear answer."""

import io

import numpy as np
import pytest
from PIL import Image

from kiosk.imageio import MAX_SIDE, ImageReadError, load_rgb


def test_cmyk_jpeg_is_the_same_face(faces, analyzer, encodings, tmp_path):
    p = tmp_path / "cmyk.jpg"
    Image.open(faces / "obama.jpg").convert("CMYK").save(p, quality=95)
    assert Image.open(p).mode == "CMYK"
    rgb = load_rgb(p)
    assert rgb.dtype == np.uint8 and rgb.shape[2] == 3
    enc = analyzer.analyze(rgb).encoding
    assert np.linalg.norm(enc - encodings["obama.jpg"]) < 0.1


def test_sixteen_bit_and_alpha_and_palette(faces, tmp_path):
    grey16 = (np.asarray(Image.open(faces / "obama.jpg").convert("L"), dtype=np.uint16) * 257)
    p16 = tmp_path / "scan16.png"
    Image.fromarray(grey16).save(p16)
    assert Image.open(p16).mode.startswith("I")
    rgb = load_rgb(p16)
    assert rgb.dtype == np.uint8 and 50 < rgb.mean() < 200  # scaled, not clipped to white

    rgba = load_rgb(faces / "32bit.png")  # face_recognition's own RGBA test photo
    assert rgba.shape[2] == 3

    pal = tmp_path / "pal.png"
    Image.open(faces / "obama.jpg").convert("P").save(pal)
    assert load_rgb(pal).shape[2] == 3


def test_huge_photo_is_downscaled_before_detection(faces, tmp_path):
    p = tmp_path / "huge.jpg"
    Image.open(faces / "obama.jpg").resize((5460, 6822)).save(p, quality=80)
    rgb = load_rgb(p)
    assert max(rgb.shape[:2]) <= MAX_SIDE


def test_absurd_size_is_refused_without_decoding(tmp_path):
    p = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(p)  # 400 megapixels, a few hundred kB on disk
    with pytest.raises(ImageReadError, match=r"bomb\.png: image is too large .*400000000 pixels"):
        load_rgb(p)


@pytest.mark.parametrize("content, message", [
    (b"NIP,name\n1,2\n", "not an image file"),
    (b"", "not an image file"),
])
def test_non_images_are_named(tmp_path, content, message):
    p = tmp_path / "roster.jpg"
    p.write_bytes(content)
    with pytest.raises(ImageReadError, match=rf"roster\.jpg: {message}"):
        load_rgb(p)


def test_truncated_jpeg(faces, tmp_path):
    p = tmp_path / "cut.jpg"
    data = (faces / "obama.jpg").read_bytes()
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageReadError, match=r"cut\.jpg: image is damaged or truncated"):
        load_rgb(p)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageReadError, match="file not found"):
        load_rgb(tmp_path / "nope.jpg")
    with pytest.raises(ImageReadError, match="is a folder"):
        load_rgb(tmp_path)
