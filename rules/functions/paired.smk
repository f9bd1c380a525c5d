# Input, param and target functions of the rules in rules/paired.smk.


def setting_bootstrap_file(sweep, setting):
    """The bootstrap replicates of one setting (all its seeds): ``seed, replicate, fid``,
    written by the evaluation beside ``metrics/{sweep}/{setting}.parquet``."""
    return metrics_file(sweep, setting, "_bootstrap")


def sweep_bootstrap_file(sweep):
    """One sweep's replicates in one table (rule paired_replicates)."""
    return f"{RESULTS}/metrics/{sweep}_bootstrap.parquet"


def paired_replicate_inputs(w):
    """The per-run replicate files of sweep ``w.sweep`` (every setting and training
    replicate, in the order of sweep_runs)."""
    return [setting_bootstrap_file(w.sweep, key) for key in sweep_runs(w.sweep)]


def replicate_files(kinds=SWEEP_KINDS):
    """The gathered replicate files of the configured sweeps among ``kinds`` (for the
    claims and tables)."""
    return [sweep_bootstrap_file(k) for k in kinds if sweep_runs(k)]
