# Input, param and target functions of the rules in rules/paired.smk.

from snakemake.io import strip_wildcard_constraints


def setting_bootstrap_file(sweep, setting):
    """The bootstrap replicates of one setting (all its seeds): ``seed, replicate, fid``,
    written by the evaluation beside ``metrics/{sweep}/{setting}.parquet``."""
    return f"{RESULTS}/metrics/{sweep}/{setting}_bootstrap.parquet"


def sweep_bootstrap_file(sweep):
    """One sweep's replicates in one table (rule paired_replicates)."""
    return f"{RESULTS}/metrics/{sweep}_bootstrap.parquet"


def replicates_produced():
    """Whether a rule of this workflow writes the per-setting replicates (the evaluation
    does once it resamples; until then the tables and claims fall back to the seeds)."""
    pattern = setting_bootstrap_file("{sweep}", "{setting}")
    return any(
        strip_wildcard_constraints(str(f)) == pattern
        for r in workflow.rules
        for f in r.output
    )


def paired_replicate_inputs(w):
    """The per-setting replicate files of sweep ``w.sweep``."""
    return [setting_bootstrap_file(w.sweep, s) for s in sweep_settings(w.sweep)]


def replicate_files(kinds=SWEEP_KINDS):
    """The gathered replicate files of the configured sweeps among ``kinds`` (for the
    claims and tables); empty until the evaluation writes replicates."""
    if not replicates_produced():
        return []
    return [sweep_bootstrap_file(k) for k in kinds if sweep_settings(k)]
