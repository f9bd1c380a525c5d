"""Relations between config values that the JSON schema cannot express.

Each check returns one line per violation naming both key paths and the fix; they run
(via :func:`navref.config.check_references`) before any job starts, once every name in
the config resolves. The relations:

- a VAE trains on an image dataset whose resolution its downsampling divides;
- a space's pipeline VAE is trained on the dataset the space encodes;
- models live in image spaces; their patch size (a release's own for ``pretrained``
  models) divides the space's latent side (where it is known before running: pixel spaces
  and pipeline VAEs); checkpoints lie within the run;
- both models of a stage-swap pair share a latent space; cfg-interval ends are ordered
  and the guided model was trained with label dropout (it needs a null class; released
  models have one);
- training seeds (``train.seeds``, :mod:`navref.replicates`): ``seed`` is ``seeds[0]``, the
  replicate names are new, and the models of one sweep setting have equally many seeds;
- KID subset and precision/recall neighbourhood fit the samples per setting; the
  memorization resolution fits every swept model's images;
- t-grid ends are ordered; intermediate-probe record times are grid points;
- report: ``model`` has loss curves; ``space_size`` is the size of some model.
"""

from __future__ import annotations

from typing import Any

from navref.analysis.split_times import relative_factor
from navref.models.release_archs import RELEASED_ARCHS, release_size
from navref.replicates import replicates_of, seeds_problems
from navref.sweeps.cfg_interval import Interval
from navref.sweeps.plan import get as get_sweep
from navref.sweeps.plan import kinds as sweep_kinds

_DIGITS_RESOLUTION = 16  # navref.data.digits default
_CIFAR10_RESOLUTION = 32
_DEFAULT_VAE_BLOCKS = [32, 64]  # navref.vae.build_small_vae default
_DEFAULT_LABEL_DROPOUT = 0.1  # navref.training.TrainConfig default
_GRID_TOL = 1e-6


def _resolution(config: dict[str, Any], dataset: str) -> int | None:
    """Image side of a dataset in pixels (None for vector data)."""
    conf = config["datasets"][dataset]
    kind = conf["kind"]
    if kind == "synthetic_gaussian":
        return None
    if kind == "cifar10":
        return _CIFAR10_RESOLUTION
    return int(conf.get("resolution", _DIGITS_RESOLUTION))


def latent_side(config: dict[str, Any], space: str) -> int | None:
    """Latent side of a space when the config fixes it (None: vectors or a pretrained VAE)."""
    conf = config["latent_spaces"][space]
    side = _resolution(config, conf["dataset"])
    if side is None or conf["kind"] == "pixel":
        return side
    if not conf.get("vae"):
        return None  # a pretrained VAE's downsampling is known only once it is loaded
    blocks = config["vaes"][conf["vae"]].get("block_out_channels", _DEFAULT_VAE_BLOCKS)
    return side // 2 ** (len(blocks) - 1)


def is_pretrained(model: dict[str, Any]) -> bool:
    """Whether a ``models`` entry is a released checkpoint (no training job)."""
    return "pretrained" in model


def model_size(model: dict[str, Any]) -> str | None:
    """The size name of a ``models`` entry: the release's (``LightningDiT-XL/1`` -> "XL")
    for a pretrained model, ``arch.size`` for a trained one (None when unset)."""
    arch = model["arch"]
    return release_size(arch) if isinstance(arch, str) else arch.get("size")


def _patch_size(model: dict[str, Any]) -> int:
    arch = model["arch"]
    if isinstance(arch, str):
        return int(
            model.get("arch_overrides", {}).get("patch_size", RELEASED_ARCHS[arch]["patch_size"])
        )
    return int(arch.get("patch_size", 1))


def _patch_key(name: str, model: dict[str, Any]) -> str:
    """Where a model's patch size comes from, for messages."""
    if not is_pretrained(model):
        return f"models.{name}.arch.patch_size"
    if "patch_size" in model.get("arch_overrides", {}):
        return f"models.{name}.arch_overrides.patch_size"
    return f"models.{name}.arch ({model['arch']}) patch size"


def _vae_problems(config: dict[str, Any]) -> list[str]:
    problems = []
    for name, vae in (config.get("vaes") or {}).items():
        side = _resolution(config, vae["dataset"])
        factor = 2 ** (len(vae.get("block_out_channels", _DEFAULT_VAE_BLOCKS)) - 1)
        if side is None:
            problems.append(f"vaes.{name}.dataset: a VAE needs an image dataset, not vectors")
        elif side % factor:
            problems.append(
                f"vaes.{name}.block_out_channels: downsamples by {factor}, which does not divide "
                f"datasets.{vae['dataset']}.resolution {side}; change either"
            )
    for name, space in config["latent_spaces"].items():
        single = str(space.get("pretrained", "")).endswith((".safetensors", ".pt", ".ckpt", ".pth"))
        normalized = space.get("normalize", space.get("kind") == "vae")
        if single and not normalized and not space.get("latents_stats"):
            problems.append(
                f"latent_spaces.{name}.pretrained: a single-file VAE checkpoint carries no "
                "scaling_factor (a diffusers folder has it in config.json), so its latents "
                "would reach the models unscaled; set normalize: true (per-channel statistics), "
                "latents_stats: <file>, or use the VAE's diffusers folder with its config.json"
            )
        vae = space.get("vae")
        if vae and config["vaes"][vae]["dataset"] != space["dataset"]:
            problems.append(
                f"latent_spaces.{name}.vae: VAE {vae!r} is trained on dataset "
                f"{config['vaes'][vae]['dataset']!r} (vaes.{vae}.dataset), but the space "
                f"encodes {space['dataset']!r} (latent_spaces.{name}.dataset); make them equal"
            )
    return problems


def _model_problems(config: dict[str, Any]) -> list[str]:
    problems = []
    for name, model in (config.get("models") or {}).items():
        space = model["space"]
        side = latent_side(config, space)
        patch = _patch_size(model)
        if _resolution(config, config["latent_spaces"][space]["dataset"]) is None:
            problems.append(f"models.{name}.space: DiTs need an image latent space, not vectors")
        elif side is not None and side % patch:
            problems.append(
                f"{_patch_key(name, model)}: {patch} does not divide the latent side {side} "
                f"of space {space!r} (models.{name}.space); pick a divisor of {side}"
            )
        if is_pretrained(model):
            continue
        steps = model["train"]["steps"]
        late = [s for s in model["train"].get("checkpoint_steps", []) if s > steps]
        if late:
            problems.append(
                f"models.{name}.train.checkpoint_steps: {late} exceed "
                f"models.{name}.train.steps={steps}; checkpoints must lie within the run"
            )
    return problems


def _reversed(a: float | str, b: float | str) -> bool:
    """Whether interval ends ``a`` > ``b`` where the config alone can tell: two numbers, or
    two ``s<f>`` by f (a number against a relative end is decided only at job time)."""
    fa, fb = relative_factor(a), relative_factor(b)
    if (fa is None) != (fb is None):
        return False
    return fa > fb if fa is not None else float(a) > float(b)


def _sweep_problems(config: dict[str, Any]) -> list[str]:
    sweeps, models = config.get("sweeps") or {}, config.get("models") or {}
    problems = []
    for i, (a, b) in enumerate((sweeps.get("stage_swap") or {}).get("pairs", [])):
        if models[a]["space"] != models[b]["space"]:
            problems.append(
                f"sweeps.stage_swap.pairs[{i}]: models {a!r} (space {models[a]['space']!r}) and "
                f"{b!r} (space {models[b]['space']!r}) must share a latent space to be combined "
                "in one sample; pair models of the same space"
            )
    guided = sweeps.get("cfg_interval") or {}
    for i, interval in enumerate(guided.get("intervals", [])):
        iv = Interval.from_conf(interval)
        if iv.guided and _reversed(iv.a, iv.b):
            problems.append(
                f"sweeps.cfg_interval.intervals[{i}]: start {iv.a} > end {iv.b}; "
                "write [start, end] with start <= end"
            )
    model = guided.get("model")
    train = (models[model].get("train") or {}) if model else {}
    if train and not train.get("label_dropout", _DEFAULT_LABEL_DROPOUT) > 0:
        problems.append(
            f"sweeps.cfg_interval.model: {model!r} is trained with "
            f"models.{model}.train.label_dropout = 0, so it has no null class to guide "
            "against; set a label_dropout > 0 (e.g. 0.1) or guide another model"
        )
    overrides = (models[model].get("arch_overrides") or {}) if model else {}
    if overrides.get("null_class") is False and guided.get("intervals"):
        problems.append(
            f"sweeps.cfg_interval.model: {model!r} is linked with "
            f"models.{model}.arch_overrides.null_class: false (a release trained without a "
            "null class), so classifier-free guidance is impossible; guide another model or "
            "remove the cfg_interval sweep"
        )
    return problems


def _seed_problems(config: dict[str, Any]) -> list[str]:
    """:func:`navref.replicates.seeds_problems`, and per sweep setting: its models must have
    equally many training seeds (setting replicate r uses replicate r of each)."""
    problems = seeds_problems(config.get("models"))
    if problems:
        return problems
    counts = {m: len(names) for m, names in replicates_of(config.get("models")).items()}
    if all(n == 1 for n in counts.values()):
        return problems  # nothing to compare (and no sweep plan needed)
    sweeps = config.get("sweeps") or {}
    for kind in sweep_kinds():
        sweep = get_sweep(kind, sweeps)
        try:
            settings = sweep.settings()
        except (ValueError, KeyError):  # a setting listed twice (the workflow's parse names
            continue  # it), or a key the schema fills is missing (an unvalidated config)
        for key, setting in settings.items():
            models = dict.fromkeys(sweep.models(setting))
            if len({counts[m] for m in models}) > 1:
                have = ", ".join(f"{m}: {counts[m]}" for m in models)
                problems.append(
                    f"sweeps.{kind}: setting {key!r} combines models with different numbers "
                    f"of training seeds ({have}; models.<m>.train.seeds); its replicate r "
                    "uses replicate r of each model, so give them equally many seeds"
                )
    return problems


def _swept_models(config: dict[str, Any]) -> set[str]:
    sweeps = config.get("sweeps") or {}
    return set().union(*(get_sweep(kind, sweeps).conf_models() for kind in sweep_kinds()))


def _evaluation_problems(config: dict[str, Any]) -> list[str]:
    # the schema fills these defaults before the workflow calls this (rules/common.smk); a
    # key still missing (an unvalidated config) skips its check instead of repeating them
    conf, sweeps = config.get("evaluation") or {}, config.get("sweeps") or {}
    n = sweeps.get("num_samples")
    problems = []
    kid, k = conf.get("kid_subset_size"), conf.get("prc_neighborhood")
    if n is not None and kid is not None and _swept_models(config) and kid > n:
        problems.append(
            f"evaluation.kid_subset_size: {kid} exceeds sweeps.num_samples {n} (KID subsets "
            "are drawn from one setting's samples); lower it or raise num_samples"
        )
    if n is not None and k is not None and _swept_models(config) and k >= n:
        problems.append(
            f"evaluation.prc_neighborhood: {k} must be below sweeps.num_samples {n}; lower it"
        )
    res = conf.get("memorization_resolution")
    for model in sorted(_swept_models(config)) if res else []:
        side = _resolution(
            config, config["latent_spaces"][config["models"][model]["space"]]["dataset"]
        )
        if side is not None and res > side:
            problems.append(
                f"evaluation.memorization_resolution: {res} exceeds the {side}-pixel images of "
                f"swept model {model!r}; set at most {side}, or null for full resolution"
            )
    return problems


def _grid_problems(config: dict[str, Any]) -> list[str]:
    problems = []
    probes = config.get("probes") or {}
    grids = [("oracle.t_grid", (config.get("oracle") or {}).get("t_grid"))]
    grids.append(("probes.loss_curves.t_grid", (probes.get("loss_curves") or {}).get("t_grid")))
    for where, grid in grids:
        if isinstance(grid, dict) and grid.get("start", 0.0) > grid["stop"]:
            problems.append(
                f"{where}: start {grid['start']} > stop {grid['stop']}; write start <= stop"
            )
    probe = probes.get("intermediate") or {}
    steps = int(probe.get("steps", 50))
    off = [t for t in probe.get("record_t", []) if abs(t * steps - round(t * steps)) > _GRID_TOL]
    if off:
        problems.append(
            f"probes.intermediate.record_t: {off} are not points of the {steps}-step grid "
            f"(probes.intermediate.steps); use multiples of 1/{steps}"
        )
    return problems


def _report_problems(config: dict[str, Any]) -> list[str]:
    report, problems = config.get("report") or {}, []
    curves = ((config.get("probes") or {}).get("loss_curves") or {}).get("models")
    if report.get("model") and curves is not None and report["model"] not in curves:
        problems.append(
            f"report.model: {report['model']!r} has no loss curves; add it to "
            f"probes.loss_curves.models {curves} or pick one of them"
        )
    sizes = sorted({model_size(m) for m in (config.get("models") or {}).values()} - {None})
    if report.get("space_size") and report["space_size"] not in sizes:
        problems.append(
            f"report.space_size: no model has size {report['space_size']!r} (arch.size, or the "
            f"release's size name); allowed: {sizes}"
        )
    return problems


def relation_problems(config: dict[str, Any]) -> list[str]:
    """Every violated relation (see the module docstring), one line each; [] if none.

    Assumes the config passed the schema and every reference resolves.
    """
    checks = (
        _vae_problems,
        _model_problems,
        _sweep_problems,
        _seed_problems,
        _evaluation_problems,
        _grid_problems,
        _report_problems,
    )
    return [line for check in checks for line in check(config)]
