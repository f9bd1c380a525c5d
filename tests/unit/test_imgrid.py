"""Image grids of the probe figures."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from navref.imgrid import make_grid, save_grid


def test_grid_layout(tmp_path):
    imgs = np.zeros((2, 3, 4, 5, 1), np.uint8)
    imgs[1, 2] = 200
    g = make_grid(imgs, pad=1)
    assert g.shape == (2 * 5 + 1, 3 * 6 + 1, 1)
    assert (g[6:10, 13:18] == 200).all() and g[0, 0, 0] == 255
    save_grid(imgs, tmp_path / "g.png", scale=2)
    assert Image.open(tmp_path / "g.png").size == (2 * (3 * 6 + 1), 2 * (2 * 5 + 1))
    with pytest.raises(ValueError):
        make_grid(imgs[0])
