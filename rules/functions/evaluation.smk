# Input, param and target functions of the rules in rules/evaluation.smk.


FEATURE_NET = conf("evaluation", "feature_extractor") == "navref-feature-net"


def evaluation_params(exclude=("feature_net",)):
    """The evaluation config without the keys ``exclude`` (default: the feature net's
    training settings)."""
    return {k: v for k, v in conf("evaluation").items() if k not in exclude}


def feature_net_input(w):
    return evaluation_file(w.dataset, "feature_net.safetensors") if FEATURE_NET else []


def sweep_metric_files(kinds=SWEEP_KINDS):
    """The metrics files (one row per seed) of every run (setting and training replicate)
    of the sweeps ``kinds`` (default: all)."""
    return [metrics_file(kind, key) for kind in kinds for key in sweep_runs(kind)]


def sweep_tables_inputs():
    """Rule sweep_tables: the per-sweep metrics tables (rule sweep_metrics) of the configured
    sweeps, in the registry's order."""
    return [
        f"{RESULTS}/metrics/{kind}.parquet" for kind in SWEEP_KINDS if sweep_runs(kind)
    ]


def metrics_file(kind, setting, suffix=""):
    """The metrics (``suffix=""``) or bootstrap (``"_bootstrap"``) file of one setting."""
    return plan_metrics_file(RESULTS, kind, setting, suffix)


def evaluate_jobs():
    """The evaluation jobs: one per sweep and data set its settings sample (one per sweep in
    every shipped config; a stage-swap sweep may pair models of several data sets), as
    ``{name: (kind, dataset, runs)}`` with the run keys (every training replicate of every
    setting) in the config's order. ``name``
    is the rule's suffix (``evaluate_sweep_<name>``): the kind, or ``<kind>_<dataset>``
    where the sweep samples several data sets."""
    jobs = {}
    for kind in SWEEP_KINDS:
        by_dataset = {}
        for key in sweep_runs(kind):
            dataset = space_dataset(setting_space(kind, key))
            by_dataset.setdefault(dataset, []).append(key)
        for dataset, settings in by_dataset.items():
            name = kind if len(by_dataset) == 1 else f"{kind}_{dataset}"
            jobs[name] = (kind, dataset, settings)
    return jobs


def evaluate_sweep_inputs(kind, dataset, settings):
    """The sample sets of ``settings`` of sweep ``kind`` (settings in the config's order,
    seeds within) and the evaluation files of their data set."""
    groups = evaluate_groups(kind, settings)
    samples = [path for group in groups for path in group["samples"]]
    return {"samples": samples, **dataset_evaluation_inputs(dataset)}


def evaluate_groups(kind, settings):
    """Rules evaluate_sweep_<kind>: per run (``settings``: run keys) its ids (the key as
    ``setting``; rule sweep_metrics reads it as setting id and training replicate), sample
    files (one per seed) and output files, as ``navref.evaluation.evaluate_settings`` takes
    them."""
    return [
        {
            "ids": {"sweep": kind, "setting": setting},
            "samples": [
                sample_file(kind, setting, seed) for seed in conf("sweeps", "seeds")
            ],
            "metrics": metrics_file(kind, setting),
            "bootstrap": metrics_file(kind, setting, "_bootstrap"),
        }
        for setting in settings
    ]


def dataset_evaluation_inputs(dataset):
    """A data set's reference statistics, the dataset and, when used, the feature net and
    the downsampled train split: what every evaluation job of its sample sets reads."""
    files = {
        "reference": evaluation_file(dataset, "reference.safetensors"),
        **memorization_inputs(dataset),
    }
    if FEATURE_NET:
        files["feature_net"] = evaluation_file(dataset, "feature_net.safetensors")
    return files


def sweep_meta(kinds=SWEEP_KINDS):
    """What the sweep table records about each run of the sweeps ``kinds``, by
    ``<kind>/<run key>``: its setting id and training replicate
    (navref.evaluation.gather_metrics), the setting's models (the config's entries) and
    their sizes."""
    sizes = {name: m["size"] for name, m in model_meta().items()}
    out = {}
    for kind in kinds:
        sweep = get_sweep(kind, conf("sweeps"))
        settings = sweep.settings()
        for key, run in sweep_runs(kind).items():
            roles = sweep.model_roles(settings[run.setting])
            out[f"{kind}/{key}"] = {
                "setting": run.setting,
                "train_replicate": run.replicate,
                **roles,
                **{f"{r}_size": sizes[m] for r, m in roles.items()},
            }
    return out
