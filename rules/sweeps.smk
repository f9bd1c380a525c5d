# Generation sweeps (Tab. 1-3): one sampling job per (sweep, setting, seed). What a sweep
# kind is (settings, models, grid, velocity, table) is defined in navref/sweeps.py. Resources
# are per sweep kind (config resources.sample_stage_swap / sample_timestep_shift /
# sample_cfg_interval), so a long CFG sweep can ask for more time than the others.


include: "functions/sweeps.smk"


rule sample_sweep:
    input:
        unpack(sample_inputs),
    output:
        f"{RESULTS}/samples/{{sweep}}/{{setting}}/seed{{seed}}.npz",
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
        precision=PRECISION,
    script:
        "../workflow_scripts/sample_sweep.py"
