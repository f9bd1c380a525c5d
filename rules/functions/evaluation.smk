# Input, param and target functions of the rules in rules/evaluation.smk.


FEATURE_NET = conf("evaluation", "feature_extractor") == "navref-feature-net"


def evaluation_params(exclude=("feature_net",)):
    """The evaluation config without the keys ``exclude`` (default: the feature net's
    training settings)."""
    return {k: v for k, v in conf("evaluation").items() if k not in exclude}


def feature_net_input(w):
    return evaluation_file(w.dataset, "feature_net.safetensors") if FEATURE_NET else []


def sweep_metric_files(kinds=SWEEP_KINDS):
    """The metrics files (one row per seed) of every setting of the sweeps ``kinds``
    (default: all)."""
    return [
        f"{RESULTS}/metrics/{kind}/{setting}.parquet"
        for kind in kinds
        for setting in sweep_settings(kind)
    ]


def evaluate_inputs(w):
    """The sample sets of one setting (one per seed, in the config's order), its dataset's
    reference statistics, the dataset and, when used, the feature net and the downsampled
    train split."""
    dataset = space_dataset(setting_space(w.sweep, w.setting))
    files = {
        "samples": [
            f"{RESULTS}/samples/{w.sweep}/{w.setting}/seed{seed}.npz"
            for seed in conf("sweeps", "seeds")
        ],
        "reference": evaluation_file(dataset, "reference.safetensors"),
        **memorization_inputs(dataset),
    }
    if FEATURE_NET:
        files["feature_net"] = evaluation_file(dataset, "feature_net.safetensors")
    return files


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
