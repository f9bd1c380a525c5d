# Evaluation: FID feature network, reference statistics, metrics per sample set, tables.


include: "functions/evaluation.smk"


rule train_feature_net:
    input:
        **dataset_files("{dataset}"),
    output:
        weights=evaluation_file("{dataset}", "feature_net.safetensors"),
        info=evaluation_file("{dataset}", "feature_net.json"),
    log:
        f"{RESULTS}/logs/train_feature_net/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_feature_net/{{dataset}}.tsv"
    conda:
        "../envs/navref.yaml"
    threads: rule_threads("train_feature_net")
    resources:
        **rule_resources("train_feature_net", mem_mb=4000, runtime=60),
    params:
        settings=conf("evaluation", "feature_net"),
        device=DEVICE,
    script:
        "../workflow_scripts/train_feature_net.py"


rule reference_stats:
    input:
        unpack(lambda w: dataset_files(w.dataset)),
        feature_net=feature_net_input,
    output:
        evaluation_file("{dataset}", "reference.safetensors"),
    log:
        f"{RESULTS}/logs/reference_stats/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/reference_stats/{{dataset}}.tsv"
    conda:
        "../envs/navref.yaml"
    threads: rule_threads("reference_stats")
    resources:
        **rule_resources("reference_stats", mem_mb=16000, runtime=120),
    params:
        settings=evaluation_params(exclude=("feature_net", "bootstrap_replicates")),
        inputs=input_stamps("evaluation"),
        device=DEVICE,
    script:
        "../workflow_scripts/reference_stats.py"


rule memorization_train:
    input:
        **dataset_files("{dataset}"),
    output:
        evaluation_file("{dataset}", "memorization_train.npy"),
    log:
        f"{RESULTS}/logs/memorization_train/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/memorization_train/{{dataset}}.tsv"
    conda:
        "../envs/navref.yaml"
    threads: rule_threads("memorization_train")
    resources:
        **rule_resources("memorization_train", mem_mb=8000, runtime=240),
    params:
        resolution=conf("evaluation", "memorization_resolution"),
    script:
        "../workflow_scripts/memorization_train.py"


# one rule per sweep (and data set, see evaluate_jobs): its outputs are the files of that
# sweep's runs (each setting per training replicate, sweep_runs), known when the workflow is parsed; one job loads the feature network,
# reference statistics and train split once for all of them
for name, (kind, dataset, settings) in evaluate_jobs().items():

    rule:
        name:
            f"evaluate_sweep_{name}"
        input:
            **evaluate_sweep_inputs(kind, dataset, settings),
        output:
            metrics=[metrics_file(kind, s) for s in settings],
            bootstrap=[metrics_file(kind, s, "_bootstrap") for s in settings],
        log:
            f"{RESULTS}/logs/evaluate_sweep/{name}.log",
        benchmark:
            f"{RESULTS}/benchmarks/evaluate_sweep/{name}.tsv"
        conda:
            "../envs/navref.yaml"
        threads: rule_threads("evaluate_sweep")
        resources:
            **rule_resources("evaluate_sweep", mem_mb=16000, runtime=240),
        params:
            groups=evaluate_groups(kind, settings),
            settings=evaluation_params(),
            inputs=input_stamps("evaluation"),
            device=DEVICE,
        script:
            "../workflow_scripts/evaluate_sweep.py"


# the claims' table of every sweep's rows: the per-sweep tables (rule sweep_metrics, the one
# gathering of the per-seed metrics) one after the other, in the registry's order
rule sweep_tables:
    input:
        sweep_tables_inputs(),
    output:
        f"{RESULTS}/metrics/sweeps.parquet",
    log:
        f"{RESULTS}/logs/sweep_tables.log",
    benchmark:
        f"{RESULTS}/benchmarks/sweep_tables.tsv"
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../workflow_scripts/sweep_tables.py"


rule sweep_metrics:
    input:
        lambda w: sweep_metric_files([w.sweep]),
    output:
        f"{RESULTS}/metrics/{{sweep}}.parquet",
    log:
        f"{RESULTS}/logs/sweep_metrics/{{sweep}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/sweep_metrics/{{sweep}}.tsv"
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        meta=lambda w: sweep_meta([w.sweep]),
    script:
        "../workflow_scripts/sweep_metrics.py"
