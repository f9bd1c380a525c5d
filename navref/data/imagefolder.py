"""ImageNet-style ``root/<class>/<image>`` folders from a local path.

Images are centre-cropped and resized as ADM / LightningDiT do (repeated 2x box
downsampling while the short side is at least twice the target, then bicubic resize of the
short side to the target and a centre crop), optionally followed by a horizontally flipped
copy of each image. The pixels stream into a memory-mapped ``.npy`` so ImageNet-sized
folders never have to fit in RAM.
"""

from __future__ import annotations

import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from navref.data.base import DatasetError, check_classes, make_meta, seeded_split
from navref.data.modes import to_rgb8

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jpe", ".ppm"}


def center_crop_resize(image: Image.Image, size: int) -> np.ndarray:
    """ADM centre crop: box-halve while short side >= 2*size, bicubic to short side = size, crop.

    Returns uint8 (size, size, 3).
    """
    image = image.convert("RGB")
    while min(image.size) >= 2 * size:
        image = image.resize(tuple(s // 2 for s in image.size), resample=Image.BOX)
    scale = size / min(image.size)
    image = image.resize(tuple(round(s * scale) for s in image.size), resample=Image.BICUBIC)
    arr = np.asarray(image)
    top = (arr.shape[0] - size) // 2
    left = (arr.shape[1] - size) // 2
    return arr[top : top + size, left : left + size]


def is_hidden(path: Path, root: Path) -> bool:
    """True if any part of ``path`` below ``root`` starts with "." (``.ipynb_checkpoints``, ...)."""
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def list_images(root: Path, classes: list[str] | None, max_per_class: int | None, log=None):
    """Return (files, labels, class_names) for ``root/<class>/<image>``, classes sorted.

    Hidden entries (any path part starting with ".") are never classes or images; the
    log says how many were skipped.
    """
    log = log or logging.getLogger(__name__)
    if not root.is_dir():
        raise DatasetError(
            f"imagefolder: root {root} does not exist or is not a directory; set the dataset's "
            "`root` (and `val_root`) to a local folder laid out as root/<class>/<image>"
        )
    folders = [p for p in root.iterdir() if p.is_dir()]
    found = sorted(p.name for p in folders if not is_hidden(p, root))
    hidden = len(folders) - len(found)
    if classes:
        unknown = [c for c in classes if c not in found]
        if unknown:
            raise DatasetError(
                f"imagefolder: classes {unknown} not found under {root} (hidden folders, whose "
                f"names start with '.', are never classes); found: {found}"
            )
        found = list(classes)
    if not found:
        raise DatasetError(f"imagefolder: no class folders under {root}")
    files, labels = [], []
    for label, name in enumerate(found):
        entries = [
            p
            for p in (root / name).rglob("*")
            if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
        ]
        imgs = sorted(p for p in entries if not is_hidden(p, root))
        hidden += len(entries) - len(imgs)
        if not imgs:
            raise DatasetError(
                f"imagefolder: class folder {root / name} holds no images "
                f"(extensions {sorted(IMAGE_EXTENSIONS)}); remove it or list `classes`"
            )
        if max_per_class:
            imgs = imgs[:max_per_class]
        files += imgs
        labels += [label] * len(imgs)
    if hidden:
        log.info("imagefolder: skipped %d hidden entr(y/ies) under %s", hidden, root)
    return files, np.asarray(labels, dtype=np.int64), found


def _load(path: Path, size: int) -> tuple[np.ndarray, str] | None:
    """Decode one image: (uint8 (size, size, 3), its Pillow mode), or None if unreadable."""
    try:
        with Image.open(path) as im:
            im.load()
            return center_crop_resize(to_rgb8(im, str(path)), size), im.mode
    except DatasetError:
        raise
    except Exception:
        return None


def prepare_imagefolder(
    conf: dict[str, Any], data_path: Path, workers: int = 1, log: logging.Logger | None = None
):
    """Decode every image into the uint8 ``.npy`` at ``data_path``; return (meta, names, skipped).

    Corrupt or unreadable files raise :class:`DatasetError` naming the file, unless
    ``conf['skip_corrupt']`` is true, in which case they are skipped and counted.
    """
    log = log or logging.getLogger(__name__)
    size = int(conf["resolution"])
    flip = bool(conf.get("hflip_copies", False))
    skip = bool(conf.get("skip_corrupt", False))
    classes = conf.get("classes")
    mpc = conf.get("max_per_class")
    files, labels, names = list_images(Path(conf["root"]), classes, mpc, log)
    split = np.full(len(files), "train", dtype=object)
    if conf.get("val_root"):
        vfiles, vlabels, vnames = list_images(Path(conf["val_root"]), names, mpc, log)
        files += vfiles
        labels = np.concatenate([labels, vlabels])
        split = np.concatenate([split, np.full(len(vfiles), "val", dtype=object)])
    elif conf.get("val_fraction", 0) > 0:
        split = seeded_split(labels, float(conf["val_fraction"]), int(conf.get("seed", 0)))
    copies = 2 if flip else 1
    out = np.lib.format.open_memmap(
        data_path, mode="w+", dtype=np.uint8, shape=(len(files) * copies, size, size, 3)
    )
    keep, skipped, n, modes = [], [], 0, Counter()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = pool.map(lambda p: _load(p, size), files)
        for i, decoded in enumerate(tqdm(results, total=len(files), desc="decode images")):
            if decoded is None:
                if not skip:
                    raise DatasetError(
                        f"imagefolder: cannot decode image {files[i]}; fix or delete the file, "
                        "or set `skip_corrupt: true` to skip unreadable images"
                    )
                skipped.append(str(files[i]))
                continue
            arr, mode = decoded
            modes[mode] += 1
            out[n] = arr
            keep.append((i, False))
            n += 1
            if flip:
                out[n] = arr[:, ::-1]
                keep.append((i, True))
                n += 1
    out.flush()
    converted = {mode: count for mode, count in sorted(modes.items()) if mode != "RGB"}
    if converted:
        log.info("imagefolder: converted to 8-bit RGB, images per source mode: %s", converted)
    if skipped:
        log.warning("imagefolder: skipped %d corrupt image(s): %s", len(skipped), skipped[:20])
    idx = np.array([i for i, _ in keep], dtype=np.int64)
    check_classes(labels[idx], names, "imagefolder")
    source = [str(files[i]) + ("#hflip" if f else "") for i, f in keep]
    meta = make_meta(labels[idx], names, split[idx], source)
    return out, n, meta, names, skipped
