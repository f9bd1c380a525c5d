"""Issue 13, cases 1-2: every Pillow image mode and hidden entries in an image folder."""

from __future__ import annotations

import colorsys
import logging

import numpy as np
import pytest
from PIL import Image

from navref.data import DatasetError, load_prepared, prepare_dataset
from navref.data.modes import UnsupportedImageMode, to_rgb8


def _srgb_from_lightness(lightness: float) -> float:
    """Neutral CIE L* (0..100) -> 8-bit sRGB value, from the CIE and sRGB formulas."""
    y = ((lightness + 16) / 116) ** 3 if lightness > 8 else lightness / 903.3
    v = 12.92 * y if y <= 0.0031308 else 1.055 * y ** (1 / 2.4) - 0.055
    return 255 * v


def _over_white(value: float, alpha: float) -> float:
    return value * alpha / 255 + 255 * (1 - alpha / 255)


def _one_pixel(mode: str, value) -> Image.Image:
    return Image.new(mode, (1, 1), value)


# mode -> (pixel value in that mode, expected RGB from an independent formula)
CASES = {
    "1": (1, (255, 255, 255)),
    "L": (77, (77, 77, 77)),
    "RGB": ((10, 200, 30), (10, 200, 30)),
    "RGBX": ((10, 200, 30, 0), (10, 200, 30)),
    "CMYK": ((50, 100, 200, 0), (205, 155, 55)),
    "YCbCr": (
        (120, 100, 160),
        (120 + 1.402 * 32, 120 + 0.344136 * 28 - 0.714136 * 32, 120 - 1.772 * 28),
    ),
    "HSV": (
        (30, 200, 180),
        tuple(255 * c for c in colorsys.hsv_to_rgb(30 / 255, 200 / 255, 180 / 255)),
    ),
    "LAB": ((128, 128, 128), (_srgb_from_lightness(128 / 255 * 100),) * 3),
    "I;16": (30000, (30000 * 255 / 65535,) * 3),
    "I;16B": (30000, (30000 * 255 / 65535,) * 3),
    "I;16L": (65535, (255, 255, 255)),
    "I;16N": (257, (1, 1, 1)),
    "I": (65535, (255, 255, 255)),
    "LA": ((100, 64), (_over_white(100, 64),) * 3),
    "RGBA": ((100, 0, 200, 128), tuple(_over_white(v, 128) for v in (100, 0, 200))),
    "RGBa": ((50, 0, 100, 128), tuple(_over_white(v * 255 / 128, 128) for v in (50, 0, 100))),
    "La": ((50, 128), (_over_white(50 * 255 / 128, 128),) * 3),
}
REFUSED = {"F": 0.5}


def test_every_pillow_mode_is_converted_or_refused():
    modes = set(Image.MODES)
    assert modes - {"P", "PA"} <= set(CASES) | set(REFUSED), "a Pillow mode has no test"
    for mode, (value, expected) in CASES.items():
        rgb = to_rgb8(_one_pixel(mode, value), f"x.{mode}")
        assert rgb.mode == "RGB"
        got = np.asarray(rgb, dtype=float)[0, 0]
        np.testing.assert_allclose(got, expected, atol=2, err_msg=mode)


def test_palette_modes_look_up_the_palette_and_alpha():
    pal = Image.new("P", (2, 1))
    pal.putpalette([0, 0, 0, 12, 34, 56] + [0] * 762)
    pal.putpixel((1, 0), 1)
    assert np.asarray(to_rgb8(pal, "p.png"))[0, 1].tolist() == [12, 34, 56]
    pal.info["transparency"] = 1  # a PNG tRNS key: index 1 is fully transparent
    assert np.asarray(to_rgb8(pal, "p.png"))[0].tolist() == [[0, 0, 0], [255, 255, 255]]
    pa = pal.convert("PA")
    pa.putpixel((1, 0), (1, 0))
    assert np.asarray(to_rgb8(pa, "pa.png"))[0, 1].tolist() == [255, 255, 255]


def test_modes_without_a_fixed_range_are_refused_by_file_and_mode():
    for mode, value in REFUSED.items():
        with pytest.raises(UnsupportedImageMode, match=rf"bad\.tif.*'{mode}'"):
            to_rgb8(_one_pixel(mode, value), "bad.tif")
    with pytest.raises(UnsupportedImageMode, match=r"outside 0\.\.65535"):
        to_rgb8(_one_pixel("I", 70000), "big.tif")


def _ramp16() -> np.ndarray:
    return np.tile(np.arange(32) * 65535 // 31, (32, 1)).astype(np.uint16)


def test_16bit_png_ramp_is_scaled_not_clipped(tmp_path, caplog):
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    Image.fromarray(_ramp16()).save(root / "a" / "ramp.png")
    Image.new("L", (32, 32), 9).save(root / "a" / "grey.png")
    Image.new("RGB", (32, 32), (1, 2, 3)).save(root / "a" / "rgb.png")
    conf = {"kind": "imagefolder", "root": str(root), "resolution": 16}
    with caplog.at_level(logging.INFO):
        prepare_dataset(conf, tmp_path / "out")
    ds = load_prepared(tmp_path / "out")
    ramp = ds.data[list(ds.meta["source"]).index(str(root / "a" / "ramp.png"))]
    # box-halving 32 -> 16 averages column pairs of the 8-bit ramp
    eight_bit = np.round(_ramp16()[0].astype(float) * 255 / 65535)
    expected = (eight_bit[0::2] + eight_bit[1::2]) / 2
    np.testing.assert_allclose(ramp[0, :, 0], expected, atol=1)
    assert ramp.min() in (4, 5) and ramp.max() in (250, 251)
    assert "{'I;16': 1, 'L': 1}" in caplog.text


def test_float_tiff_in_a_folder_is_refused_naming_file_and_mode(tmp_path):
    (tmp_path / "root" / "a").mkdir(parents=True)
    Image.fromarray(np.ones((8, 8), np.float32)).save(tmp_path / "root" / "a" / "f.tif")
    conf = {"kind": "imagefolder", "root": str(tmp_path / "root"), "resolution": 8}
    with pytest.raises(DatasetError, match=r"f\.tif has Pillow mode 'F'"):
        prepare_dataset(conf, tmp_path / "out")
    assert not (tmp_path / "out" / "data.npy").exists()


def test_hidden_entries_are_never_classes_or_images(tmp_path, caplog):
    root = tmp_path / "root"
    dirs = ("a", "b", ".ipynb_checkpoints", "a/.ipynb_checkpoints", "b/sub/.cache")
    for name in (*dirs, "b/folder.png"):  # a folder named like an image is not an image
        (root / name).mkdir(parents=True, exist_ok=True)
    for rel in ("a/1.png", "b/1.png", "b/sub/2.png"):
        Image.new("L", (8, 8), 1).save(root / rel)
    hidden = (".ipynb_checkpoints/0.png", "a/.ipynb_checkpoints/0-checkpoint.png",
              "b/sub/.cache/x.png", "a/._1.png")  # fmt: skip
    for rel in hidden:
        Image.new("L", (8, 8), 200).save(root / rel)
    conf = {"kind": "imagefolder", "root": str(root), "resolution": 8}
    with caplog.at_level(logging.INFO):
        info = prepare_dataset(conf, tmp_path / "out")
    assert info["class_names"] == ["a", "b"]
    meta = load_prepared(tmp_path / "out").meta
    assert meta["label"].tolist() == [0, 1, 1]
    assert not any("/." in s for s in meta["source"])
    assert "skipped 4 hidden" in caplog.text  # the root folder and 3 files in classes


def test_sixteen_bit_grey_with_a_transparency_key_goes_over_white(tmp_path):
    values = np.array([[0, 1000], [40000, 65535]], dtype=np.uint16)
    path = tmp_path / "key.png"
    Image.fromarray(values).save(path, transparency=1000)  # uint16 -> mode I;16
    image = Image.open(path)
    assert image.mode.startswith("I") and image.info.get("transparency") == 1000
    got = np.asarray(to_rgb8(image, str(path)))[..., 0]
    expected = np.round(values * (255 / 65535)).astype(np.uint8)
    expected[0, 1] = 255  # the key colour is transparent
    np.testing.assert_array_equal(got, expected)
