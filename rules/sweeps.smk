# Generation sweeps (Tab. 1-3): one sampling job per (sweep, setting, seed). What a sweep
# kind is (settings, models, grid, velocity, table) is defined in navref/sweeps.py. Resources
# are per sweep kind (config resources.sample_stage_swap / sample_timestep_shift /
# sample_cfg_interval), so a long CFG sweep can ask for more time than the others.
#
# Shared trajectory prefixes: a setting whose trajectory coincides with an earlier setting's
# up to grid index k (same noise, steps, velocity; navref.sweeps.Sweep.branches) starts from
# that parent's stored state at k (input branch_states, marked ancient: the stored state is
# bitwise what the child would compute, so a parent rerun does not rerun its children). Each
# job stores its states at the steps its children branch at (params keep_steps) in its
# state store (output states, a directory; empty but for meta.json without children).


include: "functions/sweeps.smk"


rule sample_sweep:
    input:
        unpack(sample_inputs),
    output:
        samples=f"{RESULTS}/samples/{{sweep}}/{{setting}}/seed{{seed}}.npz",
        states=directory(f"{RESULTS}/states/{{sweep}}/{{setting}}/seed{{seed}}"),
    log:
        f"{RESULTS}/logs/sample_sweep/{{sweep}}/{{setting}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/sample_sweep/{{sweep}}/{{setting}}/seed{{seed}}.tsv"
    conda:
        "../envs/navref.yaml"
    threads: lambda w: rule_threads(f"sample_{w.sweep}")
    resources:
        **sweep_resources(mem_mb=8000, runtime=120),
    params:
        setting=lambda w: sweep_settings(w.sweep)[w.setting],
        num_samples=conf("sweeps", "num_samples"),
        batch_size=conf("sweeps", "batch_size"),
        device=DEVICE,
        precision=conf("sweeps", "precision") or PRECISION,
        branch=lambda w: sample_branch(w.sweep, w.setting),
        keep_steps=lambda w: sample_keep_steps(w.sweep, w.setting),
    script:
        "../workflow_scripts/sample_sweep.py"
