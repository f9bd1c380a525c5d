"""Canonical config values (issue 26, items 3 and 4): the params Snakemake compares follow
values, not spellings, for every integer, number and path key of the schema; broken config
files are refused naming the file and the line."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from navref.config import (
    PATH_KEYWORD,
    ConfigError,
    _Schema,
    canonical_config,
    canonical_path,
    check_config_file,
)

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "schemas" / "config.schema.yaml"


def _leaves() -> list[tuple[tuple, set[str], str | None]]:
    """Every scalar position of the schema: (path with "x" for any entry name and 0 for a
    list item, its declared types, its x-path kind)."""
    schema = _Schema(yaml.safe_load(SCHEMA.read_text()))
    found = []

    def walk(branches, path):
        keys = {k for b in branches for k in b.get("properties", {})}
        if any(isinstance(b.get("additionalProperties"), dict) for b in branches):
            keys.add("x")
        for key in sorted(keys):
            walk(schema.child(branches, key), (*path, key))
        if schema.items(branches):
            walk(schema.items(branches), (*path, 0))
        types = schema.types(branches) & {"integer", "number", "string"}
        if types:
            found.append((path, types, schema.path_kind(branches)))

    walk(schema.branches([schema.root]), ())
    return found


LEAVES = _leaves()


def _at(path: tuple, value):
    for part in reversed(path):
        value = [value] if part == 0 else {part: value}
    return value


def _get(config, path: tuple):
    for part in path:
        config = config[part]
    return config


def _ids(kind: str) -> list:
    return [
        pytest.param(path, id=".".join(map(str, path)))
        for path, types, path_kind in LEAVES
        if (kind == "path" and path_kind == "input")
        or (kind in types and "number" not in types and kind == "integer")
        or (kind == "number" and "number" in types)
    ]


def test_the_schema_has_every_kind_of_key():
    assert len(_ids("integer")) > 40 and len(_ids("number")) > 20 and len(_ids("path")) == 8


@pytest.mark.parametrize("path", _ids("integer"))
def test_integer_keys_read_integral_floats_and_strings_as_ints(path):
    for spelled in (30.0, "30"):
        value = _get(canonical_config(_at(path, spelled), SCHEMA), path)
        assert value == 30 and type(value) is int, (path, spelled)
    assert _get(canonical_config(_at(path, 30.5), SCHEMA), path) == 30.5  # the schema refuses it


@pytest.mark.parametrize("path", _ids("number"))
def test_number_keys_are_floats_and_read_1e_3(path):
    for spelled, want in ((1, 1.0), ("1e-3", 0.001), (0.5, 0.5)):
        value = _get(canonical_config(_at(path, spelled), SCHEMA), path)
        assert value == want and type(value) is float, (path, spelled)
    assert _get(canonical_config(_at(path, "nan"), SCHEMA), path) == "nan"  # refused later
    for bad in (math.nan, math.inf, -math.inf):  # YAML's .nan / .inf are floats
        with pytest.raises(ConfigError, match=r"not a finite number"):
            canonical_config(_at(path, bad), SCHEMA)


@pytest.mark.parametrize("path", _ids("path"))
def test_path_keys_are_normalised(path, tmp_path):
    for spelled in ("data/x", "./data/x/", str(tmp_path / "data" / "x"), "data//y/../x"):
        assert _get(canonical_config(_at(path, spelled), SCHEMA, tmp_path), path) == "data/x"
    outside = canonical_config(_at(path, "../other/"), SCHEMA, tmp_path)
    assert _get(outside, path) == str(tmp_path.parent / "other")


def test_mappings_are_sorted_at_every_level_and_lists_keep_their_order():
    config = {"seed": 0, "datasets": {"b": {"seed": 1, "kind": "digits"}, "a": {"kind": "digits"}}}
    config["sweeps"] = {"seeds": [2, 0, 1]}
    out = canonical_config(config, SCHEMA)
    assert list(out) == ["datasets", "seed", "sweeps"]
    assert list(out["datasets"]) == ["a", "b"] and list(out["datasets"]["b"]) == ["kind", "seed"]
    assert out["sweeps"]["seeds"] == [2, 0, 1]


def test_strings_from_nested_config_overrides_read_as_their_type():
    config = {"probes": {"loss_curves": {"checkpoints": "true", "num_samples": "16"}}}
    config["sweeps"] = {
        "precision": "null",
        "cfg_interval": {"intervals": ["none", ["0.1", "0.3"]]},
    }
    config["probes"]["mixed"] = {"taus": ["0.0", "s1.0", "1"]}
    out = canonical_config(config, SCHEMA)
    assert out["probes"]["loss_curves"] == {"checkpoints": True, "num_samples": 16}
    assert out["sweeps"]["precision"] is None
    assert out["sweeps"]["cfg_interval"]["intervals"] == ["none", [0.1, 0.3]]
    assert out["probes"]["mixed"]["taus"] == [0.0, "s1.0", 1.0]


def test_canonical_path():
    assert canonical_path("~/x", "/w") == str(Path("~/x").expanduser())
    assert canonical_path("/w/a/", "/w") == "a" and canonical_path("/w", "/w") == "."


def test_every_path_key_is_annotated():
    # a string key whose description says it is a local path carries x-path
    for path, _types, kind in LEAVES:
        if path[-1] in ("root", "val_root", "file", "meta", "pretrained", "latents_stats"):
            assert kind == "input", path
    assert PATH_KEYWORD == "x-path"


@pytest.mark.parametrize(
    "text, where",
    [
        ("", "line 1: the config file is empty"),
        ("# only a comment\n", "line 1: the config file is empty"),
        ("seed: 0\ndatasets: {a: [\n  b: 1\n", "line 4, column 1: not valid YAML"),
        ("seed: 0\n  bad: 1\n", "line 2, column 6: not valid YAML"),
        ("# a list\n- a\n- b\n", "line 2: the top level is a list"),
    ],
)
def test_broken_config_files_are_refused_naming_the_file_and_line(tmp_path, text, where):
    path = tmp_path / "my.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=f"my.yaml, {where}"):
        check_config_file(path)
    proc = subprocess.run(
        [sys.executable, "-m", "navref.config", str(path)], capture_output=True, text=True, cwd=REPO
    )
    assert proc.returncode == 1 and f"my.yaml, {where}" in proc.stderr, proc.stderr


def test_a_broken_default_config_file_is_refused_by_the_workflow(tmp_path):
    (tmp_path / "config.yaml").write_text("seed: 0\ndatasets: {a: [\n")
    snakemake = Path(sys.executable).parent / "snakemake"
    proc = subprocess.run(
        [str(snakemake), "-s", str(REPO / "Snakefile"), "-n"],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "config.yaml, line 3, column 1: not valid YAML" in out, out
