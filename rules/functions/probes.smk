# Input, param and target functions of the rules in rules/probes.smk.


PROBE_KINDS = ["loss_curves", "intermediate", "mixed", "unseen"]


# the schema's probe block is shared by three probes, so these per-probe defaults live here
def probe_conf(kind):
    """The config of probe ``kind`` (its defaults filled in by the schema)."""
    return conf("probes", kind)


def probe_models(kind):
    """The config's model entries probe ``kind`` runs on (default: all)."""
    return conf("probes", kind).get("models", MODELS)


def loss_curve_models():
    """The models of the loss-curve probe: every training replicate of its entries
    (navref.replicates; the other probes use replicate 0, the entry itself)."""
    return [m for base in probe_models("loss_curves") for m in REPLICATES[base]]


def probe_params(kind):
    """A probe's config slice, without the selectors that only decide which jobs exist."""
    settings = {
        k: v for k, v in probe_conf(kind).items() if k not in ("models", "taus")
    }
    if kind in ("mixed", "unseen"):  # the memorization metric of evaluate_sweep_<kind>
        for key in ("memorization_threshold", "memorization_resolution"):
            settings[key] = conf("evaluation", key)
    if kind == "loss_curves":
        settings["t_grid"] = t_grid(settings.get("t_grid", conf("oracle", "t_grid")))
        settings["chunk_size"] = conf("oracle", "chunk_size")
    return settings


def model_files(model):
    """A probed model and its latent space."""
    return {
        "model": model_file(model),
        "stats": latent_file(model_space(model)),
    }


def model_inputs(w):
    return model_files(w.model)


def control_file(space):
    """The stage-free control of claims 4 and 10 of latent space ``space`` (rule
    gaussian_control; its summary: ``gaussian_control.json`` beside it)."""
    return latent_file(space, "gaussian_control.safetensors")


def gaussian_control_inputs(w):
    """The latent space whose training latents rule gaussian_control summarises."""
    return {
        "latents": latent_file(w.space, "latents.npy"),
        "meta": latent_file(w.space, "meta.parquet"),
        "stats": latent_file(w.space, "stats.json"),
    }


def intermediate_inputs(w):
    """The intermediate probe's job: the model, its latent space and the space's
    stage-free control (rule gaussian_control)."""
    return {
        **model_inputs(w),
        "gaussian_control": control_file(model_space(w.model)),
    }


def tau_inputs(kind):
    """The input function of tau probe ``kind``'s job (one model, every tau of the probe):
    the model, its latent space, the train split the memorization metric searches (as in
    evaluate_sweep_<kind>), (when a tau is relative) the split times of its space and (mixed
    only: the unseen probe does not run it) the space's stage-free control."""

    def inputs(w):
        files = {
            **model_inputs(w),
            **memorization_inputs(space_dataset(model_space(w.model))),
        }
        if kind == "mixed":
            files["gaussian_control"] = control_file(model_space(w.model))
        if any(is_relative(str(tau)) for tau in probe_conf(kind)["taus"]):
            files["split_times"] = split_time_file(model_space(w.model))
        return files

    return inputs


def model_checkpoints(model):
    steps = MODEL_CONF[model].get("train", {}).get("checkpoint_steps", [])
    return ["ema"] + (
        [f"step{s}" for s in steps]
        if conf("probes", "loss_curves", "checkpoints")
        else []
    )


def loss_curve_files(model):
    """The loss-curve tables of ``model``, one per checkpoint (its probe job's outputs; a
    checkpoint listed twice once)."""
    return [
        f"{RESULTS}/probes/loss_curves/{model}/{c}.parquet"
        for c in dict.fromkeys(model_checkpoints(model))
    ]


def tau_files(kind, model, ext):
    """The per-tau files of tau probe ``kind`` of ``model`` (a name or "{model}"), in the
    config's tau order (a tau listed twice once): the outputs of that model's probe job.
    """
    return [
        f"{RESULTS}/probes/{kind}/{model}/tau{tau}.{ext}"
        for tau in dict.fromkeys(probe_conf(kind)["taus"])
    ]


def tau_runtime(kind):
    """Default runtime (minutes) of a tau probe's job: an hour per tau."""
    return 60 * len(probe_conf(kind)["taus"])


def probe_job_tables(w):
    """{probe: the per-job tables} that rule probe_tables gathers into probe ``w.probe``'s
    table (one table per probe, so a figure of one probe needs no job of another)."""
    if w.probe == "loss_curves":
        files = [f for m in loss_curve_models() for f in loss_curve_files(m)]
    elif w.probe == "intermediate":
        files = [
            f"{RESULTS}/probes/intermediate/{m}.parquet"
            for m in probe_models("intermediate")
        ]
    else:
        files = [
            f for m in probe_models(w.probe) for f in tau_files(w.probe, m, "parquet")
        ]
    return {w.probe: files}


def probe_model_meta(probe):
    """model_meta() of the models of ``probe`` only (a new model reruns only the tables of
    the probes it is in; the loss curves: every training replicate)."""
    models = loss_curve_models() if probe == "loss_curves" else probe_models(probe)
    return {m: v for m, v in model_meta().items() if m in models}


def tau_probe_labels(i):
    """Report labels of the image grid of the ``i``-th tau of a tau probe's job, read when
    the report is made (from that tau's table): the model and tau as
    navref.report.selection.tau_text writes it ("0.54 (1.5 × split)": absolute, so the
    report sorts the grids by tau, with the multiple of the space's split time)."""

    def labels(wildcards, output):
        import pandas as pd
        from navref.analysis.split_times import SplitTimes
        from navref.report.selection import tau_text

        tau = float(pd.read_parquet(output.table[i])["tau"].iloc[0])
        space = model_space(wildcards.model)
        split_file = split_time_file(space)
        split = (
            SplitTimes.read(split_file).for_space(space)
            if os.path.exists(split_file)
            else None
        )
        return {
            "item": "grid at one τ",
            "model": wildcards.model,
            "tau": tau_text(tau, split),
        }

    return labels
