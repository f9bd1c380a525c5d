# Input, param and target functions of the rules in rules/evaluation.smk.


FEATURE_NET = conf("evaluation", "feature_extractor") == "navref-feature-net"


def evaluation_params(exclude=("feature_net", "jobs")):
    """The evaluation config without the keys ``exclude`` (default: the feature net's
    training settings, and ``jobs``, which only shapes the DAG)."""
    return {k: v for k, v in conf("evaluation").items() if k not in exclude}


def feature_net_input(w):
    return evaluation_file(w.dataset, "feature_net.safetensors") if FEATURE_NET else []


def sweep_metric_files(kinds=SWEEP_KINDS):
    """The metrics files (one row per seed) of every setting of the sweeps ``kinds``
    (default: all)."""
    return [
        metrics_file(kind, setting)
        for kind in kinds
        for setting in sweep_settings(kind)
    ]


#: one evaluation job per sweep setting (rule evaluate_samples) or per sweep (evaluate_sweep_<kind>)
EVALUATE_PER_SWEEP = conf("evaluation", "jobs") == "per_sweep"


def metrics_file(kind, setting, suffix=""):
    """The metrics (``suffix=""``) or bootstrap (``"_bootstrap"``) file of one setting."""
    return plan_metrics_file(RESULTS, kind, setting, suffix)


def evaluate_sweep_inputs(kind):
    """The sample sets of every setting of sweep ``kind`` (settings in the config's order,
    seeds within) and the evaluation files of their data set (one per sweep)."""
    datasets = {space_dataset(setting_space(kind, s)) for s in sweep_settings(kind)}
    if len(datasets) != 1:
        raise ValueError(
            "evaluation.jobs: per_sweep needs one data set per sweep, but sweep "
            f"{kind} samples {sorted(datasets)}; set evaluation.jobs: per_setting"
        )
    groups = evaluate_groups(kind, sweep_settings(kind))
    samples = [path for group in groups for path in group["samples"]]
    return {"samples": samples, **dataset_evaluation_inputs(datasets.pop())}


def evaluate_groups(kind, settings):
    """Rules evaluate_samples / evaluate_sweep_<kind>: per setting its ids, sample files (one per
    seed) and output files, as ``navref.evaluation.evaluate_settings`` takes them."""
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


def evaluate_inputs(w):
    """The sample sets of one setting (one per seed, in the config's order) and the
    evaluation files of its data set."""
    dataset = space_dataset(setting_space(w.sweep, w.setting))
    samples = evaluate_groups(w.sweep, [w.setting])[0]["samples"]
    return {"samples": samples, **dataset_evaluation_inputs(dataset)}


def sweep_meta(kinds=SWEEP_KINDS):
    """What the sweep table records about each setting of the sweeps ``kinds``: its models
    and their sizes."""
    sizes = {name: m["size"] for name, m in model_meta().items()}
    out = {}
    for kind in kinds:
        sweep = get_sweep(kind, conf("sweeps"))
        for key, setting in sweep.settings().items():
            roles = sweep.model_roles(setting)
            out[f"{kind}/{key}"] = {
                **roles,
                **{f"{r}_size": sizes[m] for r, m in roles.items()},
            }
    return out
