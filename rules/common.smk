# Shared helpers: config validation, per-rule config slices, resources, paths.

import os
import sys

from snakemake.utils import validate

# navref is importable by every job (plain venv, conda env or a SLURM node) without install.
sys.path.insert(0, workflow.basedir)
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (workflow.basedir, os.environ.get("PYTHONPATH")) if p
)

from navref.config import ConfigError, check_references, explain, t_grid


SCHEMA = workflow.source_path("../schemas/config.schema.yaml")

try:
    validate(config, "../schemas/config.schema.yaml")
except Exception as err:
    raise ConfigError(
        "config does not match schemas/config.schema.yaml:\n"
        + (explain(config, SCHEMA) or str(err))
    ) from None
check_references(config)


DATASETS = list(config["datasets"])
VAES = list(config.get("vaes", {}))
SPACES = list(config["latent_spaces"])


ORACLE = config["oracle"]
ORACLE_SPACES = ORACLE["objective"].get("spaces", SPACES)
ORACLE_MODES = ORACLE["objective"]["modes"]


wildcard_constraints:
    dataset="|".join(DATASETS) or "NONE",
    mode="cond|uncond",
    dim=r"\d+",
    size=r"\d+",
    vae="|".join(VAES) or "NONE",
    space="|".join(SPACES) or "NONE",


def res(rule_name, key, default):
    """Scheduler resource ``key`` of ``rule_name`` from the config's ``resources`` section."""
    return config.get("resources", {}).get(rule_name, {}).get(key, default)


def rule_threads(rule_name):
    return res(rule_name, "threads", 1)


def rule_resources(rule_name, mem_mb, runtime):
    """Resources of a rule: mem_mb/runtime defaults, plus gpu/cpus_per_gpu only if configured."""
    out = {
        "mem_mb": res(rule_name, "mem_mb", mem_mb),
        "runtime": res(rule_name, "runtime", runtime),
    }
    gpu = res(rule_name, "gpu", 0)
    if gpu:
        out["gpu"] = gpu
        out["cpus_per_gpu"] = res(rule_name, "cpus_per_gpu", rule_threads(rule_name))
    return out


def dataset_files(name):
    """The three files of a prepared dataset."""
    return {
        key: f"results/data/{name}/{fname}"
        for key, fname in [("data", "data.npy"), ("meta", "meta.parquet"), ("info", "info.json")]
    }


def space_inputs(wildcards):
    """Inputs of encode_latents: the prepared dataset and, for a pipeline VAE, its weights."""
    space = config["latent_spaces"][wildcards.space]
    inputs = dataset_files(space["dataset"])
    if space.get("vae"):
        inputs["vae"] = f"results/vae/{space['vae']}/config.json"
    return inputs


def oracle_params(part):
    """The slice of the oracle config that one analysis needs (its part, grid, chunking)."""
    selectors = {"spaces", "modes", "dims", "sizes"}  # which jobs exist, not how they run
    return {
        **{k: v for k, v in ORACLE[part].items() if k not in selectors},
        "t_grid": t_grid(ORACLE["t_grid"]),
        "chunk_size": ORACLE["chunk_size"],
    }


def oracle_objective_files():
    return expand(
        "results/oracle/objective/{space}_{mode}.parquet",
        space=ORACLE_SPACES,
        mode=ORACLE_MODES,
    )


def oracle_synthetic_files():
    syn = ORACLE["synthetic"]
    return expand(
        "results/oracle/synthetic/D{dim}_N{size}.parquet", dim=syn["dims"], size=syn["sizes"]
    )


def all_targets():
    targets = expand("results/data/{dataset}/info.json", dataset=DATASETS)
    targets += expand("results/latents/{space}/stats.json", space=SPACES)
    targets += ["results/oracle/split_times.parquet"]
    return targets
