# Input, param and target functions of the rules in rules/train.smk.


def model_meta():
    """What the probe and sweep tables record about each (replicate) model (a released
    model: its release's size name, target "cfm" (the releases regress the velocity x1 -
    x0), the training steps its config states); ``base_model`` and ``train_replicate``
    name the config entry and training replicate it is (navref.replicates).
    """
    return {
        name: {
            "base_model": REPLICATE[name].base,
            "train_replicate": REPLICATE[name].index,
            "space": m["space"],
            "size": model_size(m) or "custom",
            "target": m["train"]["target"] if "train" in m else "cfm",
            "steps": m["train"]["steps"] if "train" in m else m["steps"],
        }
        for name, m in MODEL_CONF.items()
    }


def train_priority(w):
    """Rule train_model's priority (when cores are short Snakemake starts the ready job of
    highest priority first): the number of sweep settings that sample with the model, so the model
    that gates the most sampling trains first. On the default run's 2 cores the critical
    path is train_vae -> small -> sampling; started after the two tiny models, small left
    one core idle for 99 s."""
    return sum(
        w.model in setting_models(kind, key)
        for kind in SWEEP_KINDS
        for key in sweep_runs(kind)
    )
