"""Image grids of the probe figures, against a brute-force layout."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from navref.imgrid import save_grid


def _brute_force(images: np.ndarray, pad: int, scale: int) -> np.ndarray:
    r, c, h, w, ch = images.shape
    out = np.full((r * (h + pad) + pad, c * (w + pad) + pad, 3), 255, np.uint8)
    for i in range(r):
        for j in range(c):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            out[y : y + h, x : x + w] = images[i, j] if ch == 3 else images[i, j, :, :, :1]
    return out.repeat(scale, axis=0).repeat(scale, axis=1)


@pytest.mark.parametrize("channels", [1, 3])
def test_grid_layout_and_values(tmp_path, channels):
    rng = np.random.default_rng(channels)
    imgs = rng.integers(0, 256, (2, 3, 4, 5, channels), dtype=np.uint8)
    save_grid(imgs, tmp_path / "g.png", scale=2)
    got = np.asarray(Image.open(tmp_path / "g.png").convert("RGB"))
    np.testing.assert_array_equal(got, _brute_force(imgs, pad=1, scale=2))
    with pytest.raises(ValueError, match="rows, cols"):
        save_grid(imgs[0], tmp_path / "bad.png")
