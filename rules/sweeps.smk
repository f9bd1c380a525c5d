# Generation sweeps (Tab. 1-3): one sampling job per (setting, seed).


rule sample_stage_swap:
    input:
        unpack(sample_inputs("stage_swap")),
    output:
        "results/samples/stage_swap/{setting}/seed{seed}.npz",
    log:
        "results/logs/sample_stage_swap/{setting}/seed{seed}.log",
    benchmark:
        "results/benchmarks/sample_stage_swap/{setting}/seed{seed}.tsv"
    conda:
        "../envs/navref.yaml"
    threads: rule_threads("sample_stage_swap")
    resources:
        **rule_resources("sample_stage_swap", mem_mb=8000, runtime=120),
    params:
        setting=lambda w: sweep_settings("stage_swap")[w.setting],
        num_samples=SWEEPS["num_samples"],
        batch_size=SWEEPS["batch_size"],
        device=config.get("device", "auto"),
    script:
        "../workflow_scripts/sample_sweep.py"


rule sample_timestep_shift:
    input:
        unpack(sample_inputs("timestep_shift")),
    output:
        "results/samples/timestep_shift/{setting}/seed{seed}.npz",
    log:
        "results/logs/sample_timestep_shift/{setting}/seed{seed}.log",
    benchmark:
        "results/benchmarks/sample_timestep_shift/{setting}/seed{seed}.tsv"
    conda:
        "../envs/navref.yaml"
    threads: rule_threads("sample_timestep_shift")
    resources:
        **rule_resources("sample_timestep_shift", mem_mb=8000, runtime=120),
    params:
        setting=lambda w: sweep_settings("timestep_shift")[w.setting],
        num_samples=SWEEPS["num_samples"],
        batch_size=SWEEPS["batch_size"],
        device=config.get("device", "auto"),
    script:
        "../workflow_scripts/sample_sweep.py"


rule sample_cfg_interval:
    input:
        unpack(sample_inputs("cfg_interval")),
    output:
        "results/samples/cfg_interval/{setting}/seed{seed}.npz",
    log:
        "results/logs/sample_cfg_interval/{setting}/seed{seed}.log",
    benchmark:
        "results/benchmarks/sample_cfg_interval/{setting}/seed{seed}.tsv"
    conda:
        "../envs/navref.yaml"
    threads: rule_threads("sample_cfg_interval")
    resources:
        **rule_resources("sample_cfg_interval", mem_mb=8000, runtime=120),
    params:
        setting=lambda w: sweep_settings("cfg_interval")[w.setting],
        num_samples=SWEEPS["num_samples"],
        batch_size=SWEEPS["batch_size"],
        device=config.get("device", "auto"),
    script:
        "../workflow_scripts/sample_sweep.py"
