"""ImageNet-style ``root/<class>/<image>`` folders from a local path.

Images are centre-cropped and resized as ADM / LightningDiT do (repeated 2x box
downsampling while the short side is at least twice the target, then bicubic resize of the
short side to the target and a centre crop), optionally followed by a horizontally flipped
copy of each image. The pixels stream into a memory-mapped ``.npy`` so ImageNet-sized
folders never have to fit in RAM.

The validation images may also lie in one flat folder, as ImageNet ships them
(``ILSVRC2012_img_val.tar``: ``ILSVRC2012_val_00000001.JPEG`` ...), with a labels file of one
line per image in sorted file-name order (``val_labels``, :func:`list_flat_val`).
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


def _check_dir(root: Path, layout: str) -> None:
    if not root.is_dir():
        raise DatasetError(
            f"imagefolder: {root.absolute()} does not exist or is not a directory; set the dataset's "
            f"`root` / `val_root` to a local folder laid out as {layout}"
        )


def class_folders(root: Path) -> tuple[list[str], int]:
    """(sorted names of the class folders of ``root``, number of hidden folders skipped).

    The position of a name in this list is its class index (torchvision's ``ImageFolder``,
    the ImageNet releases: index = position of the wnid in sorted order).
    """
    _check_dir(root, "root/<class>/<image>")
    folders = [p for p in root.iterdir() if p.is_dir()]
    found = sorted(p.name for p in folders if not is_hidden(p, root))
    return found, len(folders) - len(found)


def list_images(root: Path, classes: list[str] | None, max_per_class: int | None, log=None):
    """Return (files, labels, class_names) for ``root/<class>/<image>``, classes sorted.

    Hidden entries (any path part starting with ".") are never classes or images; the
    log says how many were skipped.
    """
    log = log or logging.getLogger(__name__)
    found, hidden = class_folders(root)
    if not found and _flat_images(root):
        raise DatasetError(
            f"imagefolder: {root} holds images directly, no class folders: for a flat "
            "validation folder (ImageNet's val as shipped) name its labels file in the "
            "dataset's `val_labels`"
        )
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


def _flat_images(root: Path) -> list[Path]:
    """The images directly in ``root`` (not hidden), sorted by file name."""
    return sorted(
        p
        for p in root.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    )


def read_label_lines(path: Path) -> list[str]:
    """The first whitespace-separated field of each line of a labels file (trailing empty
    lines dropped). Raises :class:`DatasetError` for a missing file or an empty line."""
    if not path.is_file():
        raise DatasetError(
            f"imagefolder: val_labels file {path} not found; set `val_labels.file` to the "
            "labels of the flat validation folder (e.g. the ILSVRC2012 devkit's "
            "data/ILSVRC2012_validation_ground_truth.txt)"
        )
    lines = path.read_text().splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    empty = [i + 1 for i, line in enumerate(lines) if not line.strip()]
    if empty:
        raise DatasetError(f"imagefolder: {path} has empty line(s) {empty[:10]}; one label a line")
    return [line.split()[0] for line in lines]


def devkit_wnids(meta: Path) -> dict[int, str]:
    """{ILSVRC2012_ID: wnid} of the 1000 leaf classes in the ILSVRC2012 devkit's
    ``data/meta.mat`` (synsets with ``num_children == 0``; the IDs are 1-based and NOT in
    sorted-wnid order: ID 1 is n02119789). Raises :class:`DatasetError` for a missing or
    unreadable file."""
    from scipy.io import loadmat

    if not meta.is_file():
        raise DatasetError(
            f"imagefolder: devkit meta file {meta} not found; set `val_labels.meta` to the "
            "ILSVRC2012 devkit's data/meta.mat (it maps the ground truth's ILSVRC2012_IDs to wnids)"
        )
    try:
        synsets = loadmat(str(meta), squeeze_me=True)["synsets"]
        ids, wnids = synsets["ILSVRC2012_ID"], synsets["WNID"]
        leaf = synsets["num_children"] == 0
    except Exception as err:
        raise DatasetError(
            f"imagefolder: {meta} is not the ILSVRC2012 devkit's meta.mat (a `synsets` struct "
            f"with ILSVRC2012_ID, WNID, num_children): {type(err).__name__}: {err}"
        ) from err
    return {int(i): str(w) for i, w, is_leaf in zip(ids, wnids, leaf, strict=True) if is_leaf}


def _wnid_of(token: str, fmt: str, all_classes: list[str], ids: dict[int, str]) -> str | None:
    """The class folder name a label token names (None: out of range / unknown)."""
    if fmt == "wnid":
        return token if token in all_classes else None
    try:
        value = int(token)
    except ValueError:
        return None
    if fmt == "devkit":
        return ids.get(value)
    return all_classes[value] if 0 <= value < len(all_classes) else None


_LABEL_RANGE = {
    "index": "a class index 0 .. {n1} (position of the class folder of `root` in sorted order)",
    "devkit": "an ILSVRC2012_ID of a leaf synset in the devkit's meta.mat",
    "wnid": "the name of a class folder of `root`",
}


def list_flat_val(
    val_root: Path,
    labels: dict[str, Any],
    root: Path,
    class_names: list[str],
    max_per_class: int | None,
    log: logging.Logger | None = None,
) -> tuple[list[Path], np.ndarray]:
    """(files, labels) of a flat validation folder: the images directly in ``val_root``,
    sorted by file name, and line i of ``labels["file"]`` labelling file i.

    ``labels["format"]``: ``index`` (0-based position of the class among the sorted class
    folders of ``root``: torchvision's / the releases' class index), ``devkit`` (the
    ILSVRC2012 devkit's ground truth: 1-based ILSVRC2012_IDs, mapped to wnids through the
    devkit's ``meta.mat`` named by ``labels["meta"]``) or ``wnid`` (class folder names).
    Returned labels index ``class_names`` (the classes of the train folder, possibly a
    ``classes`` subset); images of other classes are dropped (counted in the log), and at
    most ``max_per_class`` are kept per class, the first in file-name order.

    Raises :class:`DatasetError` for a missing folder / labels / meta file, a folder
    without images, a count mismatch between images and labels, a label out of range or a
    class with no folder under ``root``.
    """
    log = log or logging.getLogger(__name__)
    _check_dir(val_root, "one flat folder of images (with `val_labels`)")
    files = _flat_images(val_root)
    if not files:
        raise DatasetError(
            f"imagefolder: no images directly in {val_root}; `val_labels` is for a flat "
            "validation folder (drop it for a val_root/<class>/<image> layout)"
        )
    fmt = labels["format"]
    path = Path(labels["file"])
    tokens = read_label_lines(path)
    if len(tokens) != len(files):
        raise DatasetError(
            f"imagefolder: {path} has {len(tokens)} labels but {val_root} holds {len(files)} "
            "images; line i must label the i-th image in sorted file-name order"
        )
    all_classes, _ = class_folders(root)
    ids = devkit_wnids(Path(labels["meta"])) if fmt == "devkit" else {}
    position = {name: i for i, name in enumerate(class_names)}
    keep, out, per_class = [], [], Counter()
    for line, (file, token) in enumerate(zip(files, tokens, strict=True), start=1):
        wnid = _wnid_of(token, fmt, all_classes, ids)
        if wnid is None:
            expected = _LABEL_RANGE[fmt].format(n1=len(all_classes) - 1)
            raise DatasetError(
                f"imagefolder: label {token!r} on line {line} of {path} (image {file.name}) "
                f"is out of range for val_labels.format {fmt!r}: expected {expected}"
            )
        if wnid not in all_classes:
            raise DatasetError(
                f"imagefolder: image {file.name} is labelled {wnid} (line {line} of {path}), "
                f"which is no class folder under {root}"
            )
        if wnid not in position or (max_per_class and per_class[wnid] >= max_per_class):
            continue
        per_class[wnid] += 1
        keep.append(file)
        out.append(position[wnid])
    if len(keep) < len(files):
        log.info(
            "imagefolder: kept %d of %d flat validation images (classes / max_per_class)",
            len(keep),
            len(files),
        )
    return keep, np.asarray(out, dtype=np.int64)


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
        if conf.get("val_labels"):
            vfiles, vlabels = list_flat_val(
                Path(conf["val_root"]), conf["val_labels"], Path(conf["root"]), names, mpc, log
            )
        else:
            vfiles, vlabels, _ = list_images(Path(conf["val_root"]), names, mpc, log)
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
