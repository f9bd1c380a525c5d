# Tables, figures, the claims check and the Snakemake report.


include: "functions/report.smk"


rule report_sweep_table:
    input:
        sweeps=lambda w: f"{RESULTS}/metrics/{table_sweep(w.table)}.parquet",
        split_times=lambda w: split_time_file(report_settings()["probe_space"]),
    output:
        html=report(
            f"{RESULTS}/tables/{{table}}.html",
            caption="../report/captions/sweep_table.rst",
            category=REPORT_CATEGORIES["tables"],
            labels={"table": "{table}"},
        ),
        md=f"{RESULTS}/tables/{{table}}.md",
        parquet=f"{RESULTS}/tables/{{table}}.parquet",
        tex=f"{RESULTS}/tables/{{table}}.tex",
    log:
        f"{RESULTS}/logs/report_sweep_table/{{table}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/report_sweep_table/{{table}}.tsv"
    wildcard_constraints:
        table="|".join(sweep_tables()),
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        settings=lambda w: report_params(
            "probe_space", "stage_swap_taus", "paper_split"
        ),
    script:
        "../workflow_scripts/report_sweep_table.py"


rule report_split_table:
    input:
        SPLIT_TIMES,
    output:
        html=report(
            f"{RESULTS}/tables/split_times.html",
            caption="../report/captions/split_times.rst",
            category=REPORT_CATEGORIES["oracle"],
            labels={"table": "split times"},
        ),
        md=f"{RESULTS}/tables/split_times.md",
        parquet=f"{RESULTS}/tables/split_times.parquet",
    log:
        f"{RESULTS}/logs/report_split_table.log",
    benchmark:
        f"{RESULTS}/benchmarks/report_split_table.tsv"
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../workflow_scripts/report_split_table.py"


rule report_oracle_figures:
    input:
        objective=f"{RESULTS}/oracle/objective.parquet",
        synthetic=f"{RESULTS}/oracle/synthetic.parquet",
        split_times=SPLIT_TIMES,
    output:
        fig2=figure("fig2_objective", "fig2_objective", "oracle"),
        fig3=figure("fig3_synthetic", "fig3_synthetic", "oracle"),
        pdf=multiext(f"{RESULTS}/figures/fig", "2_objective.pdf", "3_synthetic.pdf"),
    log:
        f"{RESULTS}/logs/report_oracle_figures.log",
    benchmark:
        f"{RESULTS}/benchmarks/report_oracle_figures.tsv"
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../workflow_scripts/report_oracle_figures.py"


rule report_probe_figures:
    input:
        split_times=probe_split_files(),
        loss_curves=f"{RESULTS}/probes/loss_curves.parquet",
        intermediate=f"{RESULTS}/probes/intermediate.parquet",
        mixed=f"{RESULTS}/probes/mixed.parquet",
        unseen=f"{RESULTS}/probes/unseen.parquet",
        train_logs=f"{RESULTS}/training/train_logs.parquet",
        grids=lambda w: list(report_settings()["intermediate_grids"].values())
        + [p for g in report_settings()["mixed_grids"].values() for p in g.values()],
    output:
        **{
            f"fig5_grid_{m}": figure(
                f"fig5_mixed_grid_{m}", "fig5_mixed_grid", "probes", SUB_MIXED
            )
            for m in probe_models("mixed")
        },
        fig4_grid=figure(
            "fig4_intermediate_grid",
            "fig4_intermediate_grid",
            "probes",
            SUB_INTERMEDIATE,
        ),
        fig4_curve=figure(
            "fig4_settledness", "fig4_settledness", "probes", SUB_INTERMEDIATE
        ),
        fig5=figure("fig5_mixed", "fig5_mixed", "probes", SUB_MIXED),
        fig6=figure("fig6_unseen", "fig6_unseen", "probes", SUB_UNSEEN),
        fig7a=figure("fig7a_losses", "fig7a_losses", "losses"),
        fig7b=figure("fig7b_sizes", "fig7b_sizes", "losses"),
        fig9=figure("fig9_spaces", "fig9_spaces", "losses"),
        training=figure("training_curves", "training_curves", "training"),
        pdf=[
            f"{RESULTS}/figures/{name}.pdf"
            for name in [
                "fig4_intermediate_grid",
                "fig4_settledness",
                "fig5_mixed",
                "fig6_unseen",
                "fig7a_losses",
                "fig7b_sizes",
                "fig9_spaces",
                "training_curves",
            ]
            + [f"fig5_mixed_grid_{m}" for m in probe_models("mixed")]
        ],
    log:
        f"{RESULTS}/logs/report_probe_figures.log",
    benchmark:
        f"{RESULTS}/benchmarks/report_probe_figures.tsv"
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        settings=lambda w: report_settings(),
    script:
        "../workflow_scripts/report_probe_figures.py"


rule report_claims:
    input:
        split_times=f"{RESULTS}/oracle/split_times.parquet",
        synthetic=f"{RESULTS}/oracle/synthetic.parquet",
        objective=f"{RESULTS}/oracle/objective.parquet",
        loss_curves=f"{RESULTS}/probes/loss_curves.parquet",
        intermediate=f"{RESULTS}/probes/intermediate.parquet",
        mixed=f"{RESULTS}/probes/mixed.parquet",
        unseen=f"{RESULTS}/probes/unseen.parquet",
        table1=f"{RESULTS}/tables/table1.parquet",
        table2=f"{RESULTS}/tables/table2.parquet",
        table3=f"{RESULTS}/tables/table3.parquet",
        sweeps=f"{RESULTS}/metrics/sweeps.parquet",
    output:
        md=f"{RESULTS}/claims.md",
        parquet=f"{RESULTS}/claims.parquet",
    log:
        f"{RESULTS}/logs/report_claims.log",
    benchmark:
        f"{RESULTS}/benchmarks/report_claims.tsv"
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        settings=lambda w: report_params("probe_space", "semantic_space", "other_space"),
    script:
        "../workflow_scripts/report_claims.py"


rule report_claims_html:
    input:
        f"{RESULTS}/claims.parquet",
    output:
        report(
            f"{RESULTS}/claims.html",
            caption="../report/captions/claims.rst",
            category=REPORT_CATEGORIES["claims"],
            labels={"check": "claims"},
        ),
    log:
        f"{RESULTS}/logs/report_claims_html.log",
    benchmark:
        f"{RESULTS}/benchmarks/report_claims_html.tsv"
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../workflow_scripts/report_claims_html.py"
