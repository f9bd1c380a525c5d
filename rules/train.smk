# DiT training with rectified flow (CFM or oracle target), one job per model: per training
# replicate of an entry with train.seeds (MODEL_CONF, navref.replicates).


include: "functions/train.smk"


rule train_model:
    input:
        latents=lambda w: latent_file(model_space(w.model), "latents.npy"),
        meta=lambda w: latent_file(model_space(w.model), "meta.parquet"),
        stats=lambda w: latent_file(model_space(w.model), "stats.json"),
    output:
        weights=model_file("{model}", "model.safetensors"),
        info=model_file("{model}", "model.json"),
        log_table=model_file("{model}", "train_log.parquet"),
    log:
        f"{RESULTS}/logs/train_model/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_model/{{model}}.tsv"
    wildcard_constraints:
        model="|".join(TRAINED) or "NONE",
    priority: train_priority
    conda:
        "../envs/navref.yaml"
    threads: rule_threads("train_model")
    resources:
        **rule_resources("train_model", mem_mb=8000, runtime=600),
    params:
        settings=lambda w: MODEL_CONF[w.model],
        device=DEVICE,
    script:
        "../workflow_scripts/train_model.py"


rule link_pretrained:
    input:
        stats=lambda w: latent_file(model_space(w.model), "stats.json"),
    output:
        model_file("{model}", "model.json"),
    log:
        f"{RESULTS}/logs/link_pretrained/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/link_pretrained/{{model}}.tsv"
    wildcard_constraints:
        model="|".join(PRETRAINED) or "NONE",
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        **rule_resources("link_pretrained", mem_mb=16000, runtime=20),
    params:
        settings=lambda w: MODEL_CONF[w.model],
        inputs=lambda w: input_stamps(f"models.{w.model}"),
    script:
        "../workflow_scripts/link_pretrained.py"


rule training_logs:
    input:
        [model_file(m, "train_log.parquet") for m in TRAINED],
    output:
        f"{RESULTS}/training/train_logs.parquet",
    log:
        f"{RESULTS}/logs/training_logs.log",
    benchmark:
        f"{RESULTS}/benchmarks/training_logs.tsv"
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        models=TRAINED,
    script:
        "../workflow_scripts/training_logs.py"
