# Shared helpers: config validation and access, resources, result paths. Each rule's input
# and param functions sit in rules/functions/<topic>.smk beside its rules/<topic>.smk.

import functools
import os
import sys

from snakemake.logging import logger
from snakemake.utils import validate

# navref is importable by every job (plain venv, conda env or a SLURM node) without install.
sys.path.insert(0, workflow.basedir)
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        p for p in (workflow.basedir, os.environ.get("PYTHONPATH")) if p
    )
)


from navref.booking import booking, check_bookings
from navref.provenance import CODE_ENV, code_state

# navref's commit for every job's provenance record (navref.provenance), read once per run
os.environ.setdefault(CODE_ENV, code_state())
from navref.config import (
    ConfigError,
    canonical_config,
    check_references,
    explain,
    is_ldm_checkpoint,
    local_inputs,
    t_grid,
)
from navref.io import remembered_input_stamp

SCHEMA = workflow.source_path("../schemas/config.schema.yaml")

# Values, not spellings (navref.config.canonical_config): keys sorted, integral floats at
# integer keys as ints, "1e-3" and nested --config strings read as their type, paths
# normalised; before validation (so they pass) and after it (the filled-in defaults too).
# The rules' params are slices of this config, so Snakemake compares them by value.
config.update(canonical_config(config, SCHEMA))
# validate() also fills in the schema's defaults: they live only there.
try:
    validate(config, "../schemas/config.schema.yaml")
except Exception as err:
    raise ConfigError(
        "config does not match schemas/config.schema.yaml:\n"
        + (explain(config, SCHEMA) or str(err))
    ) from None
_canonical = canonical_config(config, SCHEMA)
config.clear()
config.update(_canonical)
check_references(config)
check_bookings(config["resources"])


#: every local input a job reads (``x-path: input`` keys): {key path: path}
LOCAL_INPUTS = local_inputs(config, SCHEMA)


def input_stamps(prefix):
    """The stamps (navref.io.input_stamp: size and mtime) of the local inputs under config
    key ``prefix`` (e.g. ``"datasets.imagenet"``): a param of every rule that reads them, so
    replacing one reruns exactly its readers; an input that has gone keeps its last stamp
    (``results/<run_name>/input_stamps.json``), so its finished readers do not rerun."""
    return {
        where: {"path": path, "stamp": _stamp(path)}
        for where, path in LOCAL_INPUTS.items()
        if where == prefix or where.startswith(f"{prefix}.")
    }


@functools.cache
def _stamp(path):
    return remembered_input_stamp(
        path, f"results/{config['run_name']}/input_stamps.json", log=logger.warning
    )


def conf(*keys):
    """The config below ``keys`` (e.g. ``conf("sweeps", "seeds")``), validated and with the
    schema's defaults filled in; an optional section that is absent reads as ``{}``."""
    node = config
    for key in keys:
        node = node.get(key, {})
    return node


from navref.analysis.split_times import is_relative
from navref.config_relations import is_pretrained, model_size
from navref.replicates import expand_models, model_replicates, replicates_of
from navref.sweeps.plan import by_table as sweep_of_table
from navref.sweeps.plan import get as get_sweep
from navref.sweeps.plan import kinds as sweep_kinds
from navref.sweeps.plan import metrics_file as plan_metrics_file
from navref.sweeps.plan import sample_file as plan_sample_file
from navref.sweeps.plan import states_dir as plan_states_dir
from navref.sweeps.plan import table_names as sweep_table_names

DATASETS = list(config["datasets"])
# the sweep kinds, in the order of navref.sweeps' registry (the only list of them)
SWEEP_KINDS = sweep_kinds()


def sample_file(kind, setting, seed):
    """The sample set of one seed of one sweep setting (navref.sweeps.plan.sample_file)."""
    return plan_sample_file(RESULTS, kind, setting, seed)


VAES = list(conf("vaes"))
SPACES = list(config["latent_spaces"])
# the config's model entries (replicate 0 of each, under the entry's own name)
MODELS = list(conf("models"))
# Training seeds (models.<m>.train.seeds, navref.replicates): every model the workflow trains
# or links, {name: entry}: the config's entries, each with one train.seed, and per further
# seed k of an entry m the replicate model m_seed<k>. REPLICATE: {name: Replicate (base
# entry, index r, seed)}; REPLICATES: {entry: its replicate models, replicate 0 first}.
MODEL_CONF = expand_models(conf("models"))
REPLICATE = model_replicates(conf("models"))
REPLICATES = replicates_of(conf("models"))
ALL_MODELS = list(MODEL_CONF)
# released checkpoints (rule link_pretrained) and models the pipeline trains (rule train_model)
PRETRAINED = [m for m in ALL_MODELS if is_pretrained(MODEL_CONF[m])]
TRAINED = [m for m in ALL_MODELS if m not in PRETRAINED]
DEVICE = config["device"]
PRECISION = config["precision"]  # rules pass it as params.precision (navref.workflow)
# Every output of this config lives under results/<run_name>/ (default: results/default/),
# so the default, smoke and paper runs can share one clone without overwriting each other.
RUN_NAME = config["run_name"]
RESULTS = f"results/{RUN_NAME}"
SEED = config["seed"]
SPLIT_TIMES = f"{RESULTS}/oracle/split_times.parquet"


wildcard_constraints:
    dataset="|".join(DATASETS) or "NONE",
    mode="cond|uncond",
    model="|".join(ALL_MODELS) or "NONE",
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
    return conf("resources", rule_name).get(key, default)


def rule_threads(rule_name):
    """Threads of a rule's jobs: ``gpu x cpus_per_gpu`` for a GPU rule (navref.booking)."""
    return booking(rule_name, conf("resources", rule_name)).threads


def rule_resources(rule_name, mem_mb, runtime):
    """Resources of a rule: mem_mb/runtime defaults, plus gpu/cpus_per_gpu (and nodes: 1 for
    several GPUs) only if configured (navref.booking)."""
    out = {
        "mem_mb": res(rule_name, "mem_mb", mem_mb),
        "runtime": res(rule_name, "runtime", runtime),
    }
    out.update(booking(rule_name, conf("resources", rule_name)).gpu_resources())
    return out


# ----------------------------------------------------------------------------- report

# Report categories in the paper's order (the report sorts categories by name).
REPORT_CATEGORIES = {
    "oracle": "1 Oracle velocity (Fig. 2, 3)",
    "training": "2 Training",
    "probes": "3 Probes (Fig. 4-6, 8)",
    "losses": "4 Model losses (Fig. 7, 9)",
    "tables": "5 Tables 1-3",
    "claims": "6 Claims",
    "run": "7 Run provenance",
}

# Probe sub-categories: the assembled figures beside the per-model / per-tau tiles. Short:
# the report's left pane is as wide as its breadcrumb (category > sub-category).
SUB_INTERMEDIATE = "Fig. 4, 8: intermediate"
SUB_MIXED = "Fig. 5: mixed sampling"
SUB_UNSEEN = "Fig. 6: unseen data"


# ----------------------------------------------------------------------------- paths


def dataset_files(name):
    """The three files of a prepared dataset."""
    return {
        key: f"{RESULTS}/data/{name}/{fname}"
        for key, fname in [
            ("data", "data.npy"),
            ("meta", "meta.parquet"),
            ("info", "info.json"),
        ]
    }


def memorization_inputs(dataset):
    """The dataset and, when downsampled, its memorization train split: what the
    memorization metric searches (evaluate_sweep_<kind>, the mixed and unseen probes).
    """
    files = dataset_files(dataset)
    if conf("evaluation", "memorization_resolution"):
        files["memorization_train"] = evaluation_file(dataset, "memorization_train.npy")
    return files


def latent_file(space, name="stats.json"):
    """A file of encoded latent space ``space`` (latents.npy, meta.parquet, stats.json)."""
    return f"{RESULTS}/latents/{space}/{name}"


def model_file(model, name="model.json"):
    """A file of trained model ``model`` (model.json, model.safetensors, train_log.parquet)."""
    return f"{RESULTS}/models/{model}/{name}"


def model_space(model):
    """The latent space model ``model`` is trained on."""
    return MODEL_CONF[model]["space"]


def space_dataset(space):
    return config["latent_spaces"][space]["dataset"]


def evaluation_file(dataset, name):
    """A per-dataset file of the evaluation (reference stats, feature net, ...)."""
    return f"{RESULTS}/evaluation/{dataset}/{name}"


def all_targets():
    """Every table, figure and the claims of the configured experiment."""
    targets = expand(f"{RESULTS}/data/{{dataset}}/info.json", dataset=DATASETS)
    targets += [latent_file(space) for space in SPACES]
    targets += [SPLIT_TIMES, f"{RESULTS}/tables/split_times.html"]
    if TRAINED:
        targets += [f"{RESULTS}/training/train_logs.parquet"]
    if MODELS:
        targets += [f"{RESULTS}/probes/{k}.parquet" for k in PROBE_KINDS]
    if sweep_metric_files():
        targets += [f"{RESULTS}/metrics/sweeps.parquet"]
        targets += [f"{RESULTS}/tables/{t}.html" for t in configured_tables()]
    targets += figure_targets()  # rules/functions/targets.smk
    if MODELS:
        if sweep_metric_files():
            targets += [f"{RESULTS}/claims.md", f"{RESULTS}/claims.html"]
    return targets
