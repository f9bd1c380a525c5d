# Generation sweeps (Tab. 1-3): one sampling job per (sweep, setting), writing one sample set
# per configured seed (models, latent space and split times loaded once; a new seed reruns
# the setting's job, as it reruns its evaluation). What a sweep kind is (settings, models,
# grid, velocity, table) is defined in its module of navref/sweeps/ (registry: navref/sweeps/plan.py). Resources are per sweep kind (config
# resources.sample_stage_swap / sample_timestep_shift / sample_cfg_interval), so a long CFG
# sweep can ask for more time than the others.
#
# Training replicates (models.<m>.train.seeds, navref.replicates): a setting whose models have
# R training seeds runs R times, run r with replicate r of each model; {setting} is the run's
# key (navref.sweeps.plan.run_key: the setting id for r = 0, <id>_train<r> else).
#
# Shared trajectory prefixes: a setting whose trajectory coincides with an earlier setting's
# up to grid index k (same noise, steps, velocity; navref.sweeps.plan.Sweep.branches) starts from
# that parent's stored states at k, one store per seed (input branch_states, marked ancient:
# the stored state is bitwise what the child would compute, so a parent rerun does not rerun
# its children). Each job stores its states at the steps its children branch at (params
# keep_steps) in one state store per seed (output states, directories; empty but for
# meta.json without children).


include: "functions/sweeps.smk"


rule sample_sweep:
    input:
        unpack(sample_inputs),
    output:
        samples=[sample_file("{sweep}", "{setting}", seed) for seed in SWEEP_SEEDS],
        states=[
            directory(states_dir("{sweep}", "{setting}", seed)) for seed in SWEEP_SEEDS
        ],
    log:
        f"{RESULTS}/logs/sample_sweep/{{sweep}}/{{setting}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/sample_sweep/{{sweep}}/{{setting}}.tsv"
    conda:
        "../envs/navref.yaml"
    threads: lambda w: rule_threads(f"sample_{w.sweep}")
    resources:
        **sweep_resources(mem_mb=8000, runtime=120),
    params:
        setting=lambda w: run_setting(w.sweep, w.setting),
        seeds=SWEEP_SEEDS,
        num_samples=conf("sweeps", "num_samples"),
        batch_size=conf("sweeps", "batch_size"),
        device=DEVICE,
        precision=conf("sweeps", "precision") or PRECISION,
        branch=lambda w: sample_branch(w.sweep, w.setting),
        keep_steps=lambda w: sample_keep_steps(w.sweep, w.setting),
    script:
        "../workflow_scripts/sample_sweep.py"
