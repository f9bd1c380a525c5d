# Generation sweeps (Tab. 1-3): one sampling job per (sweep, setting, seed). Resources are
# per sweep kind (config resources.sample_stage_swap / sample_timestep_shift /
# sample_cfg_interval), so a long CFG sweep can ask for more time than the others.


rule sample_sweep:
    input:
        unpack(sample_inputs),
    output:
        "results/samples/{sweep}/{setting}/seed{seed}.npz",
    log:
        "results/logs/sample_sweep/{sweep}/{setting}/seed{seed}.log",
    benchmark:
        "results/benchmarks/sample_sweep/{sweep}/{setting}/seed{seed}.tsv"
    conda:
        "../envs/navref.yaml"
    threads: lambda w: rule_threads(f"sample_{w.sweep}")
    resources:
        **sweep_resources(mem_mb=8000, runtime=120),
    params:
        setting=lambda w: sweep_settings(w.sweep)[w.setting],
        num_samples=SWEEPS["num_samples"],
        batch_size=SWEEPS["batch_size"],
        device=config.get("device", "auto"),
    script:
        "../workflow_scripts/sample_sweep.py"
