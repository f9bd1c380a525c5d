"""scikit-learn's handwritten digits (1,797 8x8 images, 10 classes, ships with sklearn)."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from navref.data.base import PreparedDataset, make_meta, seeded_split


def prepare_digits(conf: dict[str, Any]) -> PreparedDataset:
    """Load the digits, scale 0..16 to 0..255, resize to ``conf['resolution']`` (bicubic).

    Output images are uint8 (N, R, R, 1); the split is a seeded stratified split with
    ``conf['val_fraction']`` of each class in ``val``.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    res = int(conf.get("resolution", 16))
    raw = np.clip(bunch.images * (255.0 / 16.0), 0, 255).astype(np.uint8)
    if res == raw.shape[1]:
        images = raw
    else:
        images = np.stack(
            [np.asarray(Image.fromarray(im).resize((res, res), Image.BICUBIC)) for im in raw]
        )
    images = images[..., None]
    labels = bunch.target.astype(np.int64)
    class_names = [str(c) for c in bunch.target_names]
    split = seeded_split(labels, float(conf.get("val_fraction", 0.1)), int(conf.get("seed", 0)))
    source = [f"sklearn.datasets.load_digits[{i}]" for i in range(len(labels))]
    return PreparedDataset(
        images, make_meta(labels, class_names, split, source), class_names, "digits"
    )
