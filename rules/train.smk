# DiT training with rectified flow (CFM or oracle target), one job per model.


rule train_model:
    input:
        latents=lambda w: f"results/latents/{config['models'][w.model]['space']}/latents.npy",
        meta=lambda w: f"results/latents/{config['models'][w.model]['space']}/meta.parquet",
        stats=lambda w: f"results/latents/{config['models'][w.model]['space']}/stats.json",
    output:
        weights="results/models/{model}/model.safetensors",
        info="results/models/{model}/model.json",
        log_table="results/models/{model}/train_log.parquet",
    log:
        "results/logs/train_model/{model}.log",
    benchmark:
        "results/benchmarks/train_model/{model}.tsv"
    conda:
        "../envs/navref.yaml"
    threads: rule_threads("train_model")
    resources:
        **rule_resources("train_model", mem_mb=8000, runtime=600),
    params:
        settings=lambda w: config["models"][w.model],
        device=config.get("device", "auto"),
    script:
        "../workflow_scripts/train_model.py"


rule training_logs:
    input:
        expand("results/models/{model}/train_log.parquet", model=MODELS),
    output:
        "results/training/train_logs.parquet",
    log:
        "results/logs/training_logs.log",
    benchmark:
        "results/benchmarks/training_logs.tsv"
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        models=MODELS,
    script:
        "../workflow_scripts/training_logs.py"
