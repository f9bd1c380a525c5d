# Oracle-velocity analyses: objective gap and top-1 weight per t (Fig. 2), synthetic
# Gaussian grid (Fig. 3), split times.


include: "functions/oracle.smk"


rule oracle_objective:
    input:
        latents=latent_file("{space}", "latents.npy"),
        meta=latent_file("{space}", "meta.parquet"),
    output:
        f"{RESULTS}/oracle/objective/{{space}}_{{mode}}.parquet",
    log:
        f"{RESULTS}/logs/oracle_objective/{{space}}_{{mode}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/oracle_objective/{{space}}_{{mode}}.tsv"
    conda:
        "../envs/navref.yaml"
    threads: rule_threads("oracle_objective")
    resources:
        **rule_resources("oracle_objective", mem_mb=8000, runtime=120),
    params:
        settings=lambda w: oracle_params("objective"),
        seed=lambda w: SEED,
        device=DEVICE,
    script:
        "../workflow_scripts/oracle_objective.py"


rule oracle_synthetic:
    output:
        [
            f"{RESULTS}/oracle/synthetic/D{{dim}}_N{size}.parquet"
            for size in dict.fromkeys(conf("oracle", "synthetic", "sizes"))
        ],
    log:
        f"{RESULTS}/logs/oracle_synthetic/D{{dim}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/oracle_synthetic/D{{dim}}.tsv"
    wildcard_constraints:
        dim=r"\d+",
    conda:
        "../envs/navref.yaml"
    threads: rule_threads("oracle_synthetic")
    resources:
        **rule_resources("oracle_synthetic", mem_mb=8000, runtime=120),
    params:
        settings=lambda w: oracle_params("synthetic"),
        sizes=list(dict.fromkeys(conf("oracle", "synthetic", "sizes"))),
        seed=lambda w: SEED,
        device=DEVICE,
    script:
        "../workflow_scripts/oracle_synthetic.py"


rule oracle_split_time:
    input:
        space_objective_files,
    output:
        f"{RESULTS}/oracle/split_times/{{space}}.parquet",
    log:
        f"{RESULTS}/logs/oracle_split_time/{{space}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/oracle_split_time/{{space}}.tsv"
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        **rule_resources("oracle_split_time", mem_mb=2000, runtime=10),
    params:
        threshold=conf("oracle", "split_threshold"),
    script:
        "../workflow_scripts/oracle_split_time.py"


rule oracle_tables:
    input:
        objective=expand(
            f"{RESULTS}/oracle/objective/{{space}}_{{mode}}.parquet",
            space=ORACLE_SPACES,
            mode=ORACLE_MODES,
        ),
        synthetic=expand(
            f"{RESULTS}/oracle/synthetic/D{{dim}}_N{{size}}.parquet",
            dim=conf("oracle", "synthetic", "dims"),
            size=conf("oracle", "synthetic", "sizes"),
        ),
    output:
        objective=f"{RESULTS}/oracle/objective.parquet",
        synthetic=f"{RESULTS}/oracle/synthetic.parquet",
        split_times=SPLIT_TIMES,
    log:
        f"{RESULTS}/logs/oracle_tables.log",
    benchmark:
        f"{RESULTS}/benchmarks/oracle_tables.tsv"
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        **rule_resources("oracle_tables", mem_mb=2000, runtime=10),
    params:
        threshold=conf("oracle", "split_threshold"),
    script:
        "../workflow_scripts/oracle_tables.py"
