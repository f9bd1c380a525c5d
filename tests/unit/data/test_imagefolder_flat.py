"""ImageNet's validation set as distributed: one flat folder of JPEGs and a labels file
(the ILSVRC2012 devkit's ground truth + meta.mat, class indices, or wnids)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from imagenet_fakes import devkit_ids, write_devkit_meta, write_flat_val, write_train_folder

from navref.data import DatasetError, load_prepared, prepare_dataset

SCHEMA = Path(__file__).resolve().parents[3] / "schemas" / "config.schema.yaml"
CLASSES, PER_CLASS = 3, 2


@pytest.fixture
def imagenet(tmp_path):
    """(dataset config with a devkit-labelled flat val folder, wnids, true val labels)."""
    wnids = write_train_folder(tmp_path / "train", CLASSES, 2)
    truth = write_flat_val(
        tmp_path / "val", tmp_path / "gt.txt", tmp_path / "meta.mat", wnids, PER_CLASS
    )
    conf = {
        "kind": "imagefolder",
        "root": str(tmp_path / "train"),
        "val_root": str(tmp_path / "val"),
        "val_labels": {
            "file": str(tmp_path / "gt.txt"),
            "format": "devkit",
            "meta": str(tmp_path / "meta.mat"),
        },
        "resolution": 16,
    }
    return conf, wnids, truth


def _val(out: Path):
    ds = load_prepared(out)
    val = ds.meta[ds.meta["split"] == "val"]
    return ds, val


def test_devkit_ground_truth_labels_the_flat_folder(imagenet, tmp_path):
    conf, wnids, truth = imagenet
    info = prepare_dataset(conf, tmp_path / "out")
    ds, val = _val(tmp_path / "out")
    assert info["num_val"] == CLASSES * PER_CLASS and ds.class_names == wnids
    # sorted file-name order, labelled by the truth (the devkit IDs run in reverse, so an
    # ID read as a class index would give other labels)
    names = [Path(s).name for s in val["source"]]
    assert names == sorted(names) and names[0] == "ILSVRC2012_val_00000001.JPEG"
    np.testing.assert_array_equal(val["label"].to_numpy(), truth)
    assert val["class_name"].tolist() == [wnids[i] for i in truth]
    # the pixels are the images' own: the class colour channel dominates
    means = ds.data[val["index"].to_numpy()].reshape(len(val), -1, 3).mean(1)
    np.testing.assert_array_equal(means.argmax(1), truth % 3)


@pytest.mark.parametrize("fmt", ["index", "wnid"])
def test_index_and_wnid_labels_give_the_same_dataset(imagenet, tmp_path, fmt):
    conf, wnids, truth = imagenet
    prepare_dataset(conf, tmp_path / "devkit")
    lines = [str(i) if fmt == "index" else wnids[i] for i in truth]
    (tmp_path / "labels.txt").write_text("\n".join(lines) + "\n\n")  # trailing empty lines ok
    conf = {**conf, "val_labels": {"file": str(tmp_path / "labels.txt"), "format": fmt}}
    prepare_dataset(conf, tmp_path / "other")
    a, b = load_prepared(tmp_path / "devkit"), load_prepared(tmp_path / "other")
    np.testing.assert_array_equal(a.data, b.data)
    assert a.meta.equals(b.meta)


def test_classes_subset_and_max_per_class_apply_to_the_flat_folder(imagenet, tmp_path):
    conf, wnids, truth = imagenet
    keep = [wnids[2], wnids[0]]  # the configured order is the label order
    prepare_dataset({**conf, "classes": keep, "max_per_class": 1}, tmp_path / "out")
    _, val = _val(tmp_path / "out")
    first = [int(np.flatnonzero(truth == c)[0]) + 1 for c in (2, 0)]  # 1-based file numbers
    assert sorted(val["class_name"]) == sorted(keep) and len(val) == 2
    got = {Path(s).name for s in val["source"]}
    assert got == {f"ILSVRC2012_val_{i:08d}.JPEG" for i in first}
    assert val.set_index("class_name")["label"].to_dict() == {keep[0]: 0, keep[1]: 1}


def _fails(conf, tmp_path, match):
    with pytest.raises(DatasetError, match=match):
        prepare_dataset(conf, tmp_path / "out")


def test_flat_folder_errors_name_the_problem(imagenet, tmp_path):
    conf, wnids, truth = imagenet
    labels = conf["val_labels"]
    gt = Path(labels["file"])
    lines = gt.read_text().splitlines()
    gt.write_text("\n".join(lines[:-1]) + "\n")
    _fails(conf, tmp_path, r"5 labels but .* holds 6 images")
    gt.write_text("\n".join(lines[:2] + ["", *lines[3:]]) + "\n")
    _fails(conf, tmp_path, r"empty line\(s\) \[3\]")
    gt.write_text("\n".join(["99", *lines[1:]]) + "\n")
    _fails(conf, tmp_path, r"label '99' on line 1 .* ILSVRC2012_val_00000001.JPEG.*devkit")
    gt.write_text("\n".join(lines) + "\n")
    index = {**conf, "val_labels": {"file": str(gt), "format": "index"}}
    _fails(index, tmp_path, r"expected a class index 0 \.\. 2")  # the 1-based ID 3
    wnid = {**conf, "val_labels": {"file": str(gt), "format": "wnid"}}
    _fails(wnid, tmp_path, "expected the name of a class folder")
    missing = {**conf, "val_labels": {**labels, "file": str(tmp_path / "nope.txt")}}
    _fails(missing, tmp_path, "nope.txt not found")
    no_meta = {**conf, "val_labels": {**labels, "meta": str(tmp_path / "nope.mat")}}
    _fails(no_meta, tmp_path, "meta file .*nope.mat not found")
    (tmp_path / "bad.mat").write_bytes(b"not a mat file")
    bad_meta = {**conf, "val_labels": {**labels, "meta": str(tmp_path / "bad.mat")}}
    _fails(bad_meta, tmp_path, "is not the ILSVRC2012 devkit's meta.mat")
    # a devkit class without a folder under root
    write_devkit_meta(tmp_path / "more.mat", [*wnids, "n09999999"])
    ids = devkit_ids([*wnids, "n09999999"])
    gt.write_text("\n".join([str(ids["n09999999"]), *lines[1:]]) + "\n")
    more = {**conf, "val_labels": {**labels, "meta": str(tmp_path / "more.mat")}}
    _fails(more, tmp_path, "labelled n09999999 .* no class folder under")


def test_layout_mixups_are_explained(imagenet, tmp_path):
    conf, _, _ = imagenet
    flat_without_labels = {k: v for k, v in conf.items() if k != "val_labels"}
    _fails(flat_without_labels, tmp_path, "holds images directly.*val_labels")
    foldered = {**conf, "val_root": conf["root"]}
    _fails(foldered, tmp_path, "no images directly in .*drop it")
    _fails({**conf, "val_root": str(tmp_path / "absent")}, tmp_path, "does not exist")


@pytest.mark.parametrize(
    ("labels", "error"),
    [
        ({"file": "/d/gt.txt", "format": "devkit", "meta": "/d/meta.mat"}, None),
        ({"file": "/d/gt.txt", "format": "index"}, None),
        ({"file": "/d/gt.txt", "format": "devkit"}, "meta"),
        ({"file": "/d/gt.txt"}, "format"),
        ({"file": "/d/gt.txt", "format": "caffe"}, "caffe"),
    ],
)
def test_schema_val_labels(labels, error):
    from navref.config import explain

    data = {"kind": "imagefolder", "root": "/d/train", "val_root": "/d/val", "resolution": 8}
    config = {
        "datasets": {"imagenet": {**data, "val_labels": labels}},
        "latent_spaces": {"px": {"dataset": "imagenet", "kind": "pixel"}},
    }
    problems = explain(config, SCHEMA)
    assert (problems == "") if error is None else (error in problems), problems
    if error is None:  # val_labels needs the folder it labels
        no_root = {k: v for k, v in config["datasets"]["imagenet"].items() if k != "val_root"}
        assert "val_root" in explain({**config, "datasets": {"imagenet": no_root}}, SCHEMA)
