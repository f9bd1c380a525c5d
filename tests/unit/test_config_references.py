"""Issue 13, cases 8 and 10: every reference and every relation checked before any job."""

from __future__ import annotations

import copy
import re

import pytest
import yaml
from conftest import REPO, run_snakemake

from navref.config import REFERENCES, ConfigError, check_references, values_at


@pytest.fixture(scope="module")
def smoke():
    return yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())


def _set(conf: dict, path: str, value) -> dict:
    """Set ``a.b[0][1]`` in a deep copy of ``conf`` (creating mappings on the way)."""
    conf = copy.deepcopy(conf)
    keys = [int(k) if k.isdigit() else k for k in re.findall(r"[^.\[\]]+", path)]
    node = conf
    for key in keys[:-1]:
        node = node[key] if isinstance(key, int) else node.setdefault(key, {})
    node[keys[-1]] = value
    return conf


REFERENCE_CASES = {  # a concrete key path for every pattern of REFERENCES
    "vaes.digits_vae.dataset": "datasets",
    "latent_spaces.digits_pixel.dataset": "datasets",
    "latent_spaces.digits_vae.vae": "vaes",
    "models.small.space": "latent_spaces",
    "oracle.objective.spaces": "latent_spaces",
    "probes.loss_curves.models": "models",
    "probes.intermediate.models": "models",
    "probes.mixed.models": "models",
    "probes.unseen.models": "models",
    "sweeps.stage_swap.pairs[0][1]": "models",
    "sweeps.timestep_shift.model": "models",
    "sweeps.cfg_interval.model": "models",
    "report.model": "models",
    "report.probe_space": "latent_spaces",
    "report.semantic_space": "latent_spaces",
    "report.other_space": "latent_spaces",
}
LISTS = ("oracle.objective.spaces", "probes.loss_curves.models", "probes.intermediate.models",
         "probes.mixed.models", "probes.unseen.models")  # fmt: skip


def test_every_reference_pattern_has_a_case():
    patterns = {pattern for pattern, _ in REFERENCES}
    covered = {re.sub(r"\[\d+\]", ".[]", p).replace("..", ".") for p in REFERENCE_CASES}
    covered = {re.sub(r"^(\w+)\.\w+\.", r"\1.*.", p) if p.split(".")[0] in
               ("vaes", "latent_spaces", "models") else p for p in covered}  # fmt: skip
    covered |= {p + ".[]" for p in LISTS}
    assert patterns <= covered


@pytest.mark.parametrize("path", sorted(REFERENCE_CASES))
def test_a_misspelt_name_is_named_with_its_key_path_and_the_allowed_names(smoke, path):
    section = REFERENCE_CASES[path]
    conf = _set(smoke, path, ["smal"] if path in LISTS else "smal")
    with pytest.raises(ConfigError) as err:
        check_references(conf)
    where = path + "[0]" if path in LISTS else path
    assert f"{where}: 'smal' is not defined under `{section}`" in str(err.value)
    assert f"allowed: {sorted(smoke[section])}" in str(err.value)


def test_values_at_matches_wildcards_in_order(smoke):
    got = values_at(smoke, "sweeps.stage_swap.pairs.[].[]")
    assert got == [
        ("sweeps.stage_swap.pairs[0][0]", "tiny"),
        ("sweeps.stage_swap.pairs[0][1]", "small"),
    ]
    assert values_at(smoke, "models.*.space") == [
        ("models.tiny.space", "digits_vae"), ("models.small.space", "digits_vae")
    ]  # fmt: skip
    assert values_at(smoke, "report.model") == []


def _pixel_model(conf: dict, patch: int = 2) -> dict:
    conf = copy.deepcopy(conf)
    conf["models"]["px"] = {"space": "digits_pixel", "arch": {"size": "tiny", "patch_size": patch},
                            "train": {"steps": 5}}  # fmt: skip
    return conf


RELATIONS = {  # (key path, value, words the message must hold)
    "stage-swap pair across latent spaces": (
        "sweeps.stage_swap.pairs",
        [["tiny", "px"]],
        ["sweeps.stage_swap.pairs[0]", "'digits_vae'", "'digits_pixel'", "share a latent space"],
    ),
    "patch size vs latent side": (
        "models.px.arch.patch_size",
        3,
        ["models.px.arch.patch_size: 3", "latent side 8"],
    ),
    "patch size vs VAE latent side": (
        "models.tiny.arch.patch_size",
        8,
        ["models.tiny.arch.patch_size: 8", "latent side 4"],
    ),
    "VAE downsampling vs resolution": (
        "vaes.digits_vae.block_out_channels",
        [8, 8, 8, 8, 8],
        ["vaes.digits_vae.block_out_channels", "by 16", "datasets.digits.resolution 8"],
    ),
    "KID subset vs samples": (
        "evaluation.kid_subset_size",
        41,
        ["evaluation.kid_subset_size: 41", "sweeps.num_samples 40"],
    ),
    "precision/recall neighbourhood vs samples": (
        "evaluation.prc_neighborhood",
        40,
        ["evaluation.prc_neighborhood: 40"],
    ),
    "memorization resolution vs images": (
        "evaluation.memorization_resolution",
        9,
        ["evaluation.memorization_resolution: 9", "8-pixel images"],
    ),
    "cfg interval ends": (
        "sweeps.cfg_interval.intervals",
        ["none", [0.3, 0.1]],
        ["sweeps.cfg_interval.intervals[1]: start 0.3 > end 0.1"],
    ),
    "guided model without null class": (
        "models.tiny.train.label_dropout",
        0.0,
        ["sweeps.cfg_interval.model: 'tiny'", "models.tiny.train.label_dropout = 0"],
    ),
    "oracle t-grid ends": (
        "oracle.t_grid",
        {"start": 0.5, "stop": 0.2, "num": 3},
        ["oracle.t_grid: start 0.5 > stop 0.2"],
    ),
    "loss-curve t-grid ends": (
        "probes.loss_curves.t_grid",
        {"start": 0.5, "stop": 0.2, "num": 3},
        ["probes.loss_curves.t_grid: start 0.5 > stop 0.2"],
    ),
    "record times vs probe grid": (
        "probes.intermediate.record_t",
        [0.0, 0.25, 0.5],
        ["probes.intermediate.record_t: [0.25]", "10-step grid", "1/10"],
    ),
    "checkpoints within the run": (
        "models.tiny.train.checkpoint_steps",
        [10, 31],
        ["models.tiny.train.checkpoint_steps: [31]", "steps=30"],
    ),
    "report model has loss curves": (
        "probes.loss_curves.models",
        ["small"],
        ["report.model: 'tiny' has no loss curves"],
    ),
    "report space size is a model size": (
        "report.space_size",
        "XL",
        ["report.space_size", "'XL'", "['small', 'tiny']"],
    ),
    "VAE and space on different datasets": (
        "vaes.digits_vae.dataset",
        "other",
        ["latent_spaces.digits_vae.vae", "'other'", "latent_spaces.digits_vae.dataset"],
    ),
}


@pytest.mark.parametrize("case", sorted(RELATIONS))
def test_a_broken_relation_names_both_keys(smoke, case):
    path, value, words = RELATIONS[case]
    conf = _set(_pixel_model(smoke), "report.model", "tiny")
    conf["datasets"]["other"] = copy.deepcopy(conf["datasets"]["digits"])
    check_references(conf)  # the base config is valid
    with pytest.raises(ConfigError) as err:
        check_references(_set(conf, path, value))
    for word in words:
        assert word in str(err.value), case


def test_dry_run_names_a_misspelt_sweep_model(tmp_path, smoke):
    proc = run_snakemake(_set(smoke, "sweeps.timestep_shift.model", "smal"), tmp_path, "-n",
                         "--quiet", timeout=120)  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "sweeps.timestep_shift.model: 'smal' is not defined under `models`" in out
    assert "Traceback" not in out and "KeyError" not in out


def test_relations_use_the_schema_defaults(smoke):
    """An unset kid_subset_size takes the schema's default (500), filled by validation as in
    the workflow, and is checked against sweeps.num_samples like a set one."""
    from snakemake.utils import validate

    conf = copy.deepcopy(smoke)
    conf["evaluation"].pop("kid_subset_size")
    conf["sweeps"]["num_samples"] = 100
    validate(conf, str(REPO / "schemas" / "config.schema.yaml"))
    with pytest.raises(ConfigError, match=r"evaluation.kid_subset_size: 500 exceeds"):
        check_references(conf)
