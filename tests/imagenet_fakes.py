"""Small stand-ins for ImageNet as distributed, written by tests: a train folder
``<wnid>/*.JPEG`` and a flat validation folder with the ILSVRC2012 devkit's ground truth
(1-based ILSVRC2012_IDs, one a line, in sorted file-name order) and its ``meta.mat``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

#: The first sorted ImageNet wnids (class index 0, 1, ...).
WNIDS = ["n01440764", "n01443537", "n01484850", "n01491361", "n01494475"]


def write_jpeg(path: Path, label: int, rng: np.random.Generator, size: tuple[int, int]) -> None:
    """A JPEG of ``size`` (width, height): a class colour (one channel per label) plus noise."""
    w, h = size
    base = np.full((h, w, 3), 60.0)
    base[..., label % 3] += 100.0 + 40.0 * (label // 3)
    ramp = np.linspace(0, 50, w)[None, :, None]
    arr = np.clip(base + ramp + rng.normal(0, 25, (h, w, 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, quality=90)


def write_train_folder(root: Path, classes: int, per_class: int, seed: int = 0) -> list[str]:
    """``root/<wnid>/<wnid>_<k>.JPEG`` for the first ``classes`` of :data:`WNIDS`, of mixed
    sizes around 300 px (so the ADM crop resizes them); returns the wnids."""
    rng = np.random.default_rng(seed)
    for label, wnid in enumerate(WNIDS[:classes]):
        for k in range(per_class):
            size = (int(rng.integers(260, 340)), int(rng.integers(260, 340)))
            write_jpeg(root / wnid / f"{wnid}_{k}.JPEG", label, rng, size)
    return WNIDS[:classes]


def devkit_ids(wnids: list[str]) -> dict[str, int]:
    """ILSVRC2012_ID of each wnid in our fake devkit: NOT sorted-wnid order (as in the real
    devkit, where ID 1 is n02119789): the IDs run over the wnids in reverse."""
    return {w: len(wnids) - i for i, w in enumerate(wnids)}


def write_devkit_meta(path: Path, wnids: list[str]) -> None:
    """A devkit ``meta.mat``: a ``synsets`` struct array (ILSVRC2012_ID, WNID, words,
    num_children) with the leaf classes of :func:`devkit_ids` and one inner synset."""
    from scipy.io import savemat

    ids = devkit_ids(wnids)
    rows = sorted((i, w, f"class {w}", 0) for w, i in ids.items())
    rows.append((len(wnids) + 1, "n00001740", "entity", len(wnids)))
    dtype = [("ILSVRC2012_ID", "O"), ("WNID", "O"), ("words", "O"), ("num_children", "O")]
    synsets = np.array(rows, dtype=dtype)
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(str(path), {"synsets": synsets})


def write_flat_val(
    root: Path, labels_file: Path, meta: Path, wnids: list[str], per_class: int, seed: int = 1
) -> np.ndarray:
    """``root/ILSVRC2012_val_<8 digits>.JPEG``, classes interleaved, the devkit ground truth
    at ``labels_file`` and ``meta.mat`` at ``meta``. Returns the class index (position in
    ``wnids``) of each image in file-name order."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(len(wnids)), per_class))
    ids = devkit_ids(wnids)
    for i, label in enumerate(labels):
        size = (int(rng.integers(260, 340)), int(rng.integers(260, 340)))
        write_jpeg(root / f"ILSVRC2012_val_{i + 1:08d}.JPEG", int(label), rng, size)
    labels_file.write_text("".join(f"{ids[wnids[label]]}\n" for label in labels))
    write_devkit_meta(meta, wnids)
    return labels
