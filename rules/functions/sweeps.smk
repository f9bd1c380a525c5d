# Input, param and target functions of the rules in rules/sweeps.smk.


#: the seeds of every sweep setting (one sample set each, all made by one sample_sweep job)
SWEEP_SEEDS = [int(seed) for seed in conf("sweeps", "seeds")]


def sweep_settings(kind):
    """{setting id: setting} of sweep ``kind`` as the config writes it (replicate 0's models,
    the config's names): the settings the sample grids of the report show."""
    return get_sweep(kind, conf("sweeps")).settings()


@functools.cache
def sweep_runs(kind):
    """{run key: Run} of sweep ``kind``: every setting once per training replicate of its
    models (navref.sweeps.plan.Sweep.runs); the key is the {setting} wildcard (the setting
    id for replicate 0, ``<id>_train<r>`` for replicate r >= 1)."""
    return get_sweep(kind, conf("sweeps")).runs(REPLICATES)


def run_setting(kind, key):
    """The setting of run ``key`` of sweep ``kind``, with its replicate's models."""
    return sweep_runs(kind)[key].conf


def setting_models(kind, key):
    return get_sweep(kind, conf("sweeps")).models(run_setting(kind, key))


def setting_space(kind, key):
    return model_space(setting_models(kind, key)[0])


def states_dir(kind, setting, seed):
    """The state store of one sample job (rule sample_sweep's output ``states``)."""
    return plan_states_dir(RESULTS, kind, setting, seed)


def sample_branch(kind, key):
    """``{"parent": run key, "step": grid index}`` of the run (same training replicate)
    whose stored state run ``key`` starts from, or None (it starts from noise)."""
    runs = sweep_runs(kind)
    branch = get_sweep(kind, conf("sweeps")).run_branches(runs)[key]
    return None if branch is None else {"parent": branch.parent, "step": branch.step}


def sample_keep_steps(kind, key):
    """The grid indices at which the sample job of run ``key`` stores its states."""
    return get_sweep(kind, conf("sweeps")).run_branch_steps(sweep_runs(kind), key)


def sample_inputs(w):
    """Inputs of one sampling job: its models, its latent space, that space's split times
    and, for a setting with a parent, the parent's state stores (one per seed)."""
    files = {f"model_{m}": model_file(m) for m in setting_models(w.sweep, w.setting)}
    space = setting_space(w.sweep, w.setting)
    files["stats"] = latent_file(space)
    files["split_times"] = split_time_file(space)
    branch = sample_branch(w.sweep, w.setting)
    if branch is not None:
        parent = branch["parent"]
        files["branch_states"] = ancient(
            [states_dir(w.sweep, parent, s) for s in SWEEP_SEEDS]
        )
    return files


def sweep_resources(mem_mb, runtime):
    """Resources of the sample_sweep rule: :func:`rule_resources` of resources.sample_{sweep},
    picked per job by its {sweep} wildcard (a key one sweep lacks reads 0 there)."""
    per_sweep = {k: rule_resources(f"sample_{k}", mem_mb, runtime) for k in SWEEP_KINDS}
    keys = set().union(*per_sweep.values())
    return {k: (lambda w, k=k: per_sweep[w.sweep].get(k, 0)) for k in sorted(keys)}
