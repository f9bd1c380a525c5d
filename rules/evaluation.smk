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


if EVALUATE_PER_SWEEP:
    # one rule per configured sweep (evaluate_sweep_<kind>): its outputs are the files of
    # that sweep's settings, known when the workflow is parsed
    for kind in [k for k in SWEEP_KINDS if sweep_settings(k)]:

        rule:
            name:
                f"evaluate_sweep_{kind}"
            input:
                **evaluate_sweep_inputs(kind),
            output:
                metrics=[metrics_file(kind, s) for s in sweep_settings(kind)],
                bootstrap=[
                    metrics_file(kind, s, "_bootstrap") for s in sweep_settings(kind)
                ],
            log:
                f"{RESULTS}/logs/evaluate_sweep/{kind}.log",
            benchmark:
                f"{RESULTS}/benchmarks/evaluate_sweep/{kind}.tsv"
            conda:
                "../envs/navref.yaml"
            threads: rule_threads("evaluate_samples")
            resources:
                **rule_resources("evaluate_samples", mem_mb=16000, runtime=240),
            params:
                groups=evaluate_groups(kind, sweep_settings(kind)),
                settings=evaluation_params(),
                inputs=input_stamps("evaluation"),
                device=DEVICE,
            script:
                "../workflow_scripts/evaluate_samples.py"

else:

    rule evaluate_samples:
        input:
            unpack(evaluate_inputs),
        output:
            metrics=metrics_file("{sweep}", "{setting}"),
            bootstrap=metrics_file("{sweep}", "{setting}", "_bootstrap"),
        log:
            f"{RESULTS}/logs/evaluate_samples/{{sweep}}/{{setting}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/evaluate_samples/{{sweep}}/{{setting}}.tsv"
        wildcard_constraints:
            setting=r"[^/]+(?<!_bootstrap)",
        conda:
            "../envs/navref.yaml"
        threads: rule_threads("evaluate_samples")
        resources:
            **rule_resources("evaluate_samples", mem_mb=16000, runtime=120),
        params:
            groups=lambda w: evaluate_groups(w.sweep, [w.setting]),
            settings=evaluation_params(),
            inputs=input_stamps("evaluation"),
            device=DEVICE,
        script:
            "../workflow_scripts/evaluate_samples.py"


rule sweep_tables:
    input:
        sweep_metric_files(),
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
    params:
        meta=sweep_meta(),
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
        "../workflow_scripts/sweep_tables.py"
