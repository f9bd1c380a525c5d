"""Incremental reruns and named targets, planned (``snakemake -n``) on the smoke DAG.

The finished run is simulated: every output of configs/smoke.yaml is created empty and
marked up to date with ``snakemake --touch`` (which also records the jobs' metadata, so
parameter changes count as in a real run). Each test then changes one thing and asserts the
exact set of jobs snakemake plans: what depends on the change, nothing else. The smoke run
itself (tests/pipeline/test_pipeline.py) checks the same on real outputs for two changes.
"""

from __future__ import annotations

import copy
import subprocess

import pytest
import yaml
from conftest import REPO, SNAKEMAKE, job_counts, run_snakemake

REPORT = {"report_claims": 1, "report_claims_html": 1, "provenance": 1, "all": 1}
#: the figures drawn from the loss-curve probe and the training logs
LOSS_FIGURES = {"report_fig7": 1, "report_fig9": 1, "report_training": 1}
ORACLE_REPORT = {"oracle_tables": 1, "report_fig2": 1, "report_fig3": 1, "report_split_table": 1}


@pytest.fixture(scope="module")
def done(tmp_path_factory) -> tuple:
    """A working directory in which the smoke config's every output exists, up to date."""
    config = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    return _touched(tmp_path_factory.mktemp("touched"), config)


def _touched(workdir, config) -> tuple:
    """``workdir`` with every output of ``config`` created empty and marked up to date."""
    proc = run_snakemake(config, workdir, "--summary", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = [line.split("\t")[0] for line in proc.stdout.splitlines()[1:]]
    for rel in files:
        if rel.startswith("results/") and "/states/" in rel:  # sample_sweep's directory()
            (workdir / rel).mkdir(parents=True, exist_ok=True)
        elif rel.startswith("results/"):
            (workdir / rel).parent.mkdir(parents=True, exist_ok=True)
            (workdir / rel).touch()
    # --forceall: every job's metadata (params) recorded, as a real run does; without it the
    # jobs whose outputs were up to date already (no inputs: prepare_dataset, ...) had none,
    # and a change of their params planned nothing
    proc = run_snakemake(workdir / "config.yaml", workdir, "--touch", "--forceall", "--cores", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return workdir, config


def _plan(done, change, *targets) -> dict[str, int]:
    workdir, config = done
    cfg = copy.deepcopy(config)
    change(cfg)
    path = workdir / "changed.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = run_snakemake(path, workdir, "-n", *targets, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return job_counts(proc.stdout)


def test_unchanged_config_plans_nothing(done):
    assert _plan(done, lambda c: None) == {}


def test_new_synthetic_dim_or_size_reruns_only_the_oracle_report(done):
    # one oracle_synthetic job per D writes every size's table: a new D is one job, a new
    # size reruns the job of every D
    dims = len(done[1]["oracle"]["synthetic"]["dims"])
    want = {"oracle_synthetic": 1, **ORACLE_REPORT, **REPORT}
    assert _plan(done, lambda c: c["oracle"]["synthetic"]["dims"].append(128)) == want
    want["oracle_synthetic"] = dims
    assert _plan(done, lambda c: c["oracle"]["synthetic"]["sizes"].append(400)) == want


def test_new_latent_space_reruns_only_its_oracle_jobs(done):
    def change(c):
        c["latent_spaces"]["digits_px2"] = {"dataset": "digits", "kind": "pixel"}

    want = {"encode_latents": 1, "oracle_objective": 2, **ORACLE_REPORT, **REPORT}
    assert _plan(done, change) == want


def test_new_dataset_reruns_only_its_jobs(done):
    def change(c):
        c["datasets"]["digits2"] = {**c["datasets"]["digits"], "seed": 1}
        c["latent_spaces"]["d2"] = {"dataset": "digits2", "kind": "pixel"}

    want = {"prepare_dataset": 1, "encode_latents": 1, "oracle_objective": 2}
    assert _plan(done, change) == {**want, **ORACLE_REPORT, **REPORT}


def test_new_model_trains_and_probes_only_it(done):
    def change(c):
        c["models"]["tiny2"] = {**c["models"]["tiny"], "space": "digits_pixel"}

    # its space's split time (Fig. 9 marks it), its training and its loss-curve job (its 3
    # checkpoints), the loss-curve table and the figures drawn from it; Fig. 4-6 stay
    want = {"oracle_split_time": 1, "train_model": 1, "probe_loss_curves_tiny2": 1}
    want |= {"training_logs": 1, "probe_tables": 1, **LOSS_FIGURES}
    assert _plan(done, change) == {**want, **REPORT}


def test_one_models_lr_reruns_that_model_and_its_sweeps(done):
    def change(c):
        c["models"]["small"]["train"] = {**c["models"]["small"]["train"], "lr": 0.002}

    want = {"train_model": 1, "probe_loss_curves_small": 1, "training_logs": 1}
    want |= {"probe_tables": 1, **LOSS_FIGURES}
    # small samples only in the stage swap (tiny -> small): one set, its sweep's evaluation
    # (one job), its metrics, Table 1
    want |= {"sample_sweep": 1, "evaluate_sweep_stage_swap": 1}
    want |= {"sweep_metrics": 1, "sweep_tables": 1}
    want |= {"paired_replicates": 1}  # the sweep's gathered bootstrap replicates
    want |= {"report_sweep_table": 1, "report_sweep_grid": 1}  # + Table 1's sample grid
    assert _plan(done, change) == {**want, **REPORT}


def test_one_cfg_interval_adds_one_sample_set_and_table3(done):
    # [0.2, 0.4] follows "none" until t = 0.2 (grid index 2), a branch step "none" did not
    # store (its one child, [0.1, 0.3], branches at index 1): "none" reruns to store it too
    # (bitwise the same samples, so its other child, reading the store as ancient, does not)
    def change(c):
        c["sweeps"]["cfg_interval"]["intervals"].append([0.2, 0.4])

    # one evaluation job per sweep: it writes the new setting's files and rewrites the
    # others' (the same values)
    want = {"sample_sweep": 2, "evaluate_sweep_cfg_interval": 1}
    want |= {"sweep_metrics": 1, "sweep_tables": 1}
    want |= {"paired_replicates": 1}  # the sweep's gathered bootstrap replicates
    want |= {"report_sweep_table": 1, "report_sweep_grid": 1}  # + Table 3's sample grid
    assert _plan(done, change) == {**want, **REPORT}


@pytest.fixture(scope="module")
def done_branching(tmp_path_factory) -> tuple:
    """Like ``done``, with a stage swap whose pairs share model tiny up to tau: (tiny, tiny)
    starts from the state that (tiny, small) stores at tau; a third model, tiny2."""
    config = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    config["models"]["tiny2"] = copy.deepcopy(config["models"]["tiny"])
    config["sweeps"]["stage_swap"]["pairs"] = [["tiny", "small"], ["tiny", "tiny"]]
    return _touched(tmp_path_factory.mktemp("branching"), config)


def test_a_setting_at_an_existing_branch_step_adds_only_its_sample_set(done_branching):
    # (tiny, tiny2) follows tiny until tau like (tiny, small) and (tiny, tiny): it starts
    # from the stored state at tau; no stored state is missing, so nothing else reruns. (A
    # new CFG interval always leaves its parent at a new step: at each stored step the
    # guided and the unguided continuation are both taken already.)
    def change(c):
        c["sweeps"]["stage_swap"]["pairs"].append(["tiny", "tiny2"])

    want = {"sample_sweep": 1, "evaluate_sweep_stage_swap": 1}  # the sweep's one evaluation
    want |= {"sweep_metrics": 1, "sweep_tables": 1}
    want |= {"paired_replicates": 1}  # the sweep's gathered bootstrap replicates
    want |= {"report_sweep_table": 1, "report_sweep_grid": 1}  # + Table 1's sample grid
    assert _plan(done_branching, change) == {**want, **REPORT}


def test_one_more_seed_reruns_the_sampling_and_evaluation_of_every_setting(done):
    # one sample_sweep job per setting makes all its seeds (and its sweep's one evaluation
    # job reads them), so a new seed reruns every sampling and evaluation job and what reads
    # them, nothing upstream
    workdir, config = done
    settings = [p for p in (workdir / "results").glob("*/samples/*/*") if p.is_dir()]
    plan = _plan(done, lambda c: c["sweeps"]["seeds"].append(max(c["sweeps"]["seeds"]) + 1))
    sweeps = {p.parent.name for p in settings}
    evaluate = {job: n for job, n in plan.items() if job.startswith("evaluate_")}
    assert settings and plan["sample_sweep"] == len(settings)
    assert evaluate == {f"evaluate_sweep_{sweep}": 1 for sweep in sweeps}
    upstream = ("train_", "oracle_", "probe_", "encode_", "prepare_", "reference_")
    assert not [job for job in plan if job.startswith(upstream)], plan


def test_one_tau_reruns_the_models_tau_probe_job(done):
    # one job per model makes all taus of the probe: it reruns, no other probe or model
    want = {"probe_mixed": 1, "probe_tables": 1, "report_fig5": 1, **REPORT}
    assert _plan(done, lambda c: c["probes"]["mixed"]["taus"].append(0.5)) == want


def _plan_fresh(tmp_path, config, *targets) -> dict[str, int]:
    proc = run_snakemake(config, tmp_path, "-n", *targets, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return job_counts(proc.stdout)


def test_table3_from_scratch_runs_only_what_table3_needs(tmp_path, smoke_config):
    # the CFG-interval sweep (2 settings x 1 seed) of model tiny (VAE space), its FID
    # reference, the VAE space's split time; no stage swap, shift, probe or other model
    want = {
        "prepare_dataset": 1, "train_vae": 1, "encode_latents": 1, "oracle_objective": 2,
        "oracle_split_time": 1, "train_model": 1, "train_feature_net": 1,
        "reference_stats": 1, "memorization_train": 1, "sample_sweep": 2,
        "evaluate_sweep_cfg_interval": 1, "sweep_metrics": 1, "paired_replicates": 1,
        "report_sweep_table": 1, "report_sweep_grid": 1, "table3": 1,
    }  # fmt: skip
    assert _plan_fresh(tmp_path, smoke_config, "table3") == want


def test_table2_from_scratch_draws_its_plot_and_sample_grid(tmp_path, smoke_config):
    # Table 2 as a plot is an output of report_sweep_table (drawn from the table it writes);
    # the sample grid reads only the shift sweep's samples: no other sweep, no probe
    jobs = _plan_fresh(tmp_path, smoke_config, "table2")
    assert jobs["report_sweep_table"] == jobs["report_sweep_grid"] == 1, jobs
    assert jobs["sample_sweep"] == 1 and jobs["table2"] == 1, jobs
    assert not {r for r in jobs if r.startswith(("probe_", "report_fig"))}, jobs
    summary = run_snakemake(smoke_config, tmp_path, "--summary", timeout=300).stdout
    for name in ("table2_fid.png", "table2_fid.pdf", "table2_samples.png", "table2_samples.pdf"):
        assert f"results/smoke/figures/{name}" in summary, name


#: the probe rule each probe figure needs, and every probe rule (the loss-curve rules, one
#: per model, probe_loss_curves_<model>, count as probe_loss_curves)
FIGURE_PROBES = {
    "fig4": "probe_intermediate", "fig5": "probe_mixed", "fig6": "probe_unseen",
    "fig7": "probe_loss_curves", "fig8": "probe_intermediate", "fig9": "probe_loss_curves",
}  # fmt: skip
PROBE_RULES = set(FIGURE_PROBES.values())


def _probe_rule(rule: str) -> str:
    return "probe_loss_curves" if rule.startswith("probe_loss_curves_") else rule


@pytest.mark.parametrize("fig", sorted(FIGURE_PROBES))
def test_one_figure_from_scratch_runs_only_its_probe(tmp_path, smoke_config, fig):
    jobs = _plan_fresh(tmp_path, smoke_config, fig)
    assert fig in jobs
    assert {_probe_rule(r) for r in jobs} & PROBE_RULES == {FIGURE_PROBES[fig]}, jobs
    figure_rules = {r for r in jobs if r.startswith("report_")}
    assert figure_rules <= {f"report_{fig}"}, jobs  # no other figure, table or claim
    # the one probe's table (Fig. 8 is the intermediate probe's own image grids: none)
    assert jobs.get("probe_tables", 0) == (fig != "fig8"), jobs


def test_fig5_from_scratch_trains_only_the_probed_model(tmp_path, smoke_config):
    # Fig. 5 probes tiny at 3 taus (one job): tiny's training, its VAE space, split time,
    # the space's stage-free control and the memorization metric's train split; no sweep, no
    # other model, no synthetic oracle
    want = {
        "prepare_dataset": 1, "train_vae": 1, "encode_latents": 1, "oracle_objective": 2,
        "oracle_split_time": 1, "gaussian_control": 1, "memorization_train": 1,
        "train_model": 1, "probe_mixed": 1, "probe_tables": 1, "report_fig5": 1, "fig5": 1,
    }  # fmt: skip
    assert _plan_fresh(tmp_path, smoke_config, "fig5") == want


def test_each_config_writes_under_its_run_name(tmp_path, smoke_config):
    proc = run_snakemake(smoke_config, tmp_path, "--summary", timeout=300)
    files = [line.split("\t")[0] for line in proc.stdout.splitlines()[1:] if line.strip()]
    assert files and all(f.startswith("results/smoke/") for f in files), files[:5]
    other = {**smoke_config, "run_name": "mine"}
    proc = run_snakemake(other, tmp_path / "b", "--summary", timeout=300)
    files = [line.split("\t")[0] for line in proc.stdout.splitlines()[1:] if line.strip()]
    assert files and all(f.startswith("results/mine/") for f in files), files[:5]


def test_make_help_lists_the_artefact_targets():
    out = subprocess.run(
        ["make", "-s", "-C", str(REPO), "help"], capture_output=True, text=True, check=True
    ).stdout
    for name in ("table1", "table3", "fig2", "fig9", "claims", "report"):
        assert name in out, out
    assert SNAKEMAKE.name == "snakemake"
