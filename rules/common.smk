# Shared helpers: config validation, per-rule config slices, resources, paths.

import os
import sys

from snakemake.utils import validate

# navref is importable by every job (plain venv, conda env or a SLURM node) without install.
sys.path.insert(0, workflow.basedir)
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        p for p in (workflow.basedir, os.environ.get("PYTHONPATH")) if p
    )
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


MODELS = list(config.get("models", {}))
SWEEP_KINDS = ["stage_swap", "timestep_shift", "cfg_interval"]
ORACLE = config["oracle"]
ORACLE_SPACES = ORACLE["objective"].get("spaces", SPACES)
ORACLE_MODES = ORACLE["objective"]["modes"]


wildcard_constraints:
    dataset="|".join(DATASETS) or "NONE",
    mode="cond|uncond",
    model="|".join(MODELS) or "NONE",
    ckpt=r"ema|step\d+",
    tau=r"s?[0-9.]+",
    sweep="|".join(SWEEP_KINDS),
    setting=r"[^/]+",
    seed=r"\d+",
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
        for key, fname in [
            ("data", "data.npy"),
            ("meta", "meta.parquet"),
            ("info", "info.json"),
        ]
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
    selectors = {
        "spaces",
        "modes",
        "dims",
        "sizes",
    }  # which jobs exist, not how they run
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
        "results/oracle/synthetic/D{dim}_N{size}.parquet",
        dim=syn["dims"],
        size=syn["sizes"],
    )


PROBES = config["probes"]
PROBE_KINDS = ["loss_curves", "intermediate", "mixed", "unseen"]
PROBE_DEFAULTS = {
    "intermediate": {"record_t": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8]},
    "mixed": {"taus": [0.0, "s0.25", "s0.5", "s0.75", "s1.0", "s1.5", 1.0]},
    "unseen": {"taus": ["s0.25", "s0.5", "s1.0", "s1.5", "s2.0"]},
}


def probe_cfg(kind):
    return {**PROBE_DEFAULTS.get(kind, {}), **PROBES[kind]}


def probe_models(kind):
    return PROBES[kind].get("models", MODELS)


def probe_params(kind):
    """A probe's config slice, without the selectors that only decide which jobs exist."""
    cfg = {k: v for k, v in probe_cfg(kind).items() if k not in ("models", "taus")}
    if kind == "loss_curves":
        cfg["t_grid"] = t_grid(cfg.get("t_grid", ORACLE["t_grid"]))
        cfg["chunk_size"] = ORACLE["chunk_size"]
    return cfg


def is_relative_tau(tau):
    return str(tau).startswith("s")


def tau_inputs(kind):
    """Inputs of a tau-indexed probe: the model, its latent space and (for relative taus)
    the split-time table."""

    def inputs(w):
        space = config["models"][w.model]["space"]
        files = {
            "model": f"results/models/{w.model}/model.json",
            "stats": f"results/latents/{space}/stats.json",
        }
        if is_relative_tau(w.tau):
            files["split_times"] = "results/oracle/split_times.parquet"
        return files

    return inputs


def model_checkpoints(model):
    steps = config["models"][model]["train"].get("checkpoint_steps", [])
    return ["ema"] + (
        [f"step{s}" for s in steps] if probe_cfg("loss_curves")["checkpoints"] else []
    )


def model_meta():
    """What the probe tables record about each model."""
    return {
        name: {
            "space": m["space"],
            "size": m["arch"].get("size", "custom"),
            "target": m["train"].get("target", "cfm"),
            "steps": m["train"]["steps"],
        }
        for name, m in config.get("models", {}).items()
    }


def loss_curve_files():
    return [
        f"results/probes/loss_curves/{m}/{c}.parquet"
        for m in probe_models("loss_curves")
        for c in model_checkpoints(m)
    ]


def tau_files(kind, ext):
    return [
        f"results/probes/{kind}/{m}/tau{tau}.{ext}"
        for m in probe_models(kind)
        for tau in probe_cfg(kind)["taus"]
    ]


SWEEPS = config["sweeps"]
EVAL = config["evaluation"]
FEATURE_NET = EVAL["feature_extractor"] == "navref-feature-net"


def _g(x):
    return f"{x:g}"


def sweep_settings(sweep):
    """{setting id: setting} of one sweep; the id is the {setting} wildcard."""
    cfg = SWEEPS.get(sweep)
    if not cfg:
        return {}
    if sweep == "stage_swap":
        return {
            f"tau{tau}_{a}-{b}": {
                "tau": str(tau),
                "stage1": a,
                "stage2": b,
                "steps_per_stage": cfg.get("steps_per_stage", 25),
            }
            for tau in cfg["taus"]
            for a, b in cfg["pairs"]
        }
    if sweep == "timestep_shift":
        return {
            f"s{_g(s)}": {
                "model": cfg["model"],
                "shift": s,
                "steps": cfg.get("steps", 50),
            }
            for s in cfg["shifts"]
        }
    out = {}
    for iv in cfg["intervals"]:
        key = "none" if iv == "none" else f"{_g(iv[0])}-{_g(iv[1])}"
        out[key] = {
            "model": cfg["model"],
            "interval": None if iv == "none" else list(iv),
            "scale": cfg.get("scale", 2.5),
            "steps": cfg.get("steps", 50),
        }
    return out


def setting_models(sweep, setting):
    s = sweep_settings(sweep)[setting]
    return [s["stage1"], s["stage2"]] if sweep == "stage_swap" else [s["model"]]


def setting_space(sweep, setting):
    return config["models"][setting_models(sweep, setting)[0]]["space"]


def space_dataset(space):
    return config["latent_spaces"][space]["dataset"]


def sample_inputs(w):
    """Inputs of one sampling job: its models, its latent space, the split times."""
    files = {
        f"model_{m}": f"results/models/{m}/model.json"
        for m in setting_models(w.sweep, w.setting)
    }
    files["stats"] = f"results/latents/{setting_space(w.sweep, w.setting)}/stats.json"
    files["split_times"] = "results/oracle/split_times.parquet"
    return files


def sweep_resources(mem_mb, runtime):
    """Resources of the sample_sweep rule: :func:`rule_resources` of resources.sample_{sweep},
    picked per job by its {sweep} wildcard (a key one sweep lacks reads 0 there)."""
    per_sweep = {k: rule_resources(f"sample_{k}", mem_mb, runtime) for k in SWEEP_KINDS}
    keys = set().union(*per_sweep.values())
    return {k: (lambda w, k=k: per_sweep[w.sweep].get(k, 0)) for k in sorted(keys)}


def eval_inputs(w):
    dataset = space_dataset(setting_space(w.sweep, w.setting))
    files = {
        "samples": f"results/samples/{w.sweep}/{w.setting}/seed{w.seed}.npz",
        "reference": f"results/evaluation/{dataset}/reference.safetensors",
        **dataset_files(dataset),
    }
    if FEATURE_NET:
        files["feature_net"] = f"results/evaluation/{dataset}/feature_net.safetensors"
    if EVAL["memorization_resolution"]:
        files["memorization_train"] = (
            f"results/evaluation/{dataset}/memorization_train.npy"
        )
    return files


def eval_params():
    return {k: v for k, v in EVAL.items() if k != "feature_net"}


def feature_net_input(w):
    if FEATURE_NET:
        return f"results/evaluation/{w.dataset}/feature_net.safetensors"
    return []


def sweep_metric_files():
    return [
        f"results/metrics/{sweep}/{setting}/seed{seed}.parquet"
        for sweep in SWEEP_KINDS
        for setting in sweep_settings(sweep)
        for seed in SWEEPS["seeds"]
    ]


def sweep_meta():
    """What the sweep table records about each setting (models and their sizes)."""
    meta = model_meta()
    out = {}
    for sweep in SWEEP_KINDS:
        for key, s in sweep_settings(sweep).items():
            row = {k: v for k, v in s.items() if k in ("stage1", "stage2", "model")}
            for k in ("stage1", "stage2", "model"):
                if k in row:
                    row[f"{k}_size"] = meta[row[k]]["size"]
            out[f"{sweep}/{key}"] = row
    return out


REPORT = config["report"]


def report_cfg():
    """The report's config slice, with defaults derived from the models and probes."""
    cfg = dict(REPORT)
    probed = probe_models("loss_curves")
    cfg.setdefault("model", probed[0] if probed else None)
    if cfg["model"]:
        cfg.setdefault("probe_space", config["models"][cfg["model"]]["space"])
        cfg.setdefault("space_size", config["models"][cfg["model"]]["arch"].get("size"))
    cfg["stage_swap_taus"] = [
        str(t) for t in SWEEPS.get("stage_swap", {}).get("taus", [])
    ]
    cfg["intermediate_grids"] = {
        m: f"results/probes/intermediate/{m}.png" for m in probe_models("intermediate")
    }
    cfg["mixed_grids"] = {
        m: {
            str(t): f"results/probes/mixed/{m}/tau{t}.png"
            for t in probe_cfg("mixed")["taus"]
        }
        for m in probe_models("mixed")
    }
    return cfg


def report_params(*keys):
    """Only the report settings a rule reads, so e.g. a new probe tau does not redo the tables."""
    cfg = report_cfg()
    return {k: cfg[k] for k in keys if k in cfg}


def figure(name, caption, category, subcategory=None):
    """A report figure: PNG for the report, PDF beside it."""
    return report(
        f"results/figures/{name}.png",
        caption=f"../report/captions/{caption}.rst",
        category=category,
        subcategory=subcategory,
    )


def all_targets():
    targets = expand("results/data/{dataset}/info.json", dataset=DATASETS)
    targets += expand("results/latents/{space}/stats.json", space=SPACES)
    targets += ["results/oracle/split_times.parquet"]
    if MODELS:
        targets += ["results/training/train_logs.parquet"]
        targets += [f"results/probes/{k}.parquet" for k in PROBE_KINDS]
    if sweep_metric_files():
        targets += ["results/metrics/sweeps.parquet", "results/tables/table1.md"]
    targets += ["results/figures/fig2_objective.png"]
    if MODELS:
        targets += ["results/figures/fig7a_losses.png"]
        if sweep_metric_files():
            targets += ["results/claims.md"]
    return targets
