# Tables, figures, the claims check and the Snakemake report.


include: "functions/report.smk"


rule report_tables:
    input:
        sweeps="results/metrics/sweeps.parquet",
        split_times=SPLIT_TIMES,
    output:
        **table_outputs(),
        extra=multiext(
            "results/tables/",
            *[
                f"{name}.{ext}"
                for name in sweep_tables()
                for ext in ("parquet", "tex")
            ],
            "split_times.parquet",
        ),
    log:
        "results/logs/report_tables.log",
    benchmark:
        "results/benchmarks/report_tables.tsv"
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        settings=lambda w: report_params("probe_space", "stage_swap_taus", "paper_split"),
    script:
        "../workflow_scripts/report_tables.py"


rule report_oracle_figures:
    input:
        objective="results/oracle/objective.parquet",
        synthetic="results/oracle/synthetic.parquet",
        split_times=SPLIT_TIMES,
    output:
        fig2=figure("fig2_objective", "fig2_objective", "Oracle velocity"),
        fig3=figure("fig3_synthetic", "fig3_synthetic", "Oracle velocity"),
        pdf=multiext("results/figures/fig", "2_objective.pdf", "3_synthetic.pdf"),
    log:
        "results/logs/report_oracle_figures.log",
    benchmark:
        "results/benchmarks/report_oracle_figures.tsv"
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
        split_times=SPLIT_TIMES,
        loss_curves="results/probes/loss_curves.parquet",
        intermediate="results/probes/intermediate.parquet",
        mixed="results/probes/mixed.parquet",
        unseen="results/probes/unseen.parquet",
        train_logs="results/training/train_logs.parquet",
        grids=lambda w: list(report_settings()["intermediate_grids"].values())
        + [p for g in report_settings()["mixed_grids"].values() for p in g.values()],
    output:
        **{
            f"fig5_grid_{m}": figure(
                f"fig5_mixed_grid_{m}", "fig5_mixed_grid", "Probes"
            )
            for m in probe_models("mixed")
        },
        fig4_grid=figure("fig4_intermediate_grid", "fig4_intermediate_grid", "Probes"),
        fig4_curve=figure("fig4_settledness", "fig4_settledness", "Probes"),
        fig5=figure("fig5_mixed", "fig5_mixed", "Probes"),
        fig6=figure("fig6_unseen", "fig6_unseen", "Probes"),
        fig7a=figure("fig7a_losses", "fig7a_losses", "Model losses"),
        fig7b=figure("fig7b_sizes", "fig7b_sizes", "Model losses"),
        fig9=figure("fig9_spaces", "fig9_spaces", "Model losses"),
        training=figure("training_curves", "training_curves", "Training"),
        pdf=[
            f"results/figures/{name}.pdf"
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
        "results/logs/report_probe_figures.log",
    benchmark:
        "results/benchmarks/report_probe_figures.tsv"
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
        split_times="results/oracle/split_times.parquet",
        synthetic="results/oracle/synthetic.parquet",
        objective="results/oracle/objective.parquet",
        loss_curves="results/probes/loss_curves.parquet",
        mixed="results/probes/mixed.parquet",
        unseen="results/probes/unseen.parquet",
        table1="results/tables/table1.parquet",
        table2="results/tables/table2.parquet",
        table3="results/tables/table3.parquet",
        sweeps="results/metrics/sweeps.parquet",
    output:
        md=report(
            "results/claims.md",
            caption="../report/captions/claims.rst",
            category="Claims",
        ),
        parquet="results/claims.parquet",
    log:
        "results/logs/report_claims.log",
    benchmark:
        "results/benchmarks/report_claims.tsv"
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
