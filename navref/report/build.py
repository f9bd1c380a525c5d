"""What the report rules do: read the pipeline's tables, write tables, figures and claims.

Called by ``workflow_scripts/report_*.py``; each function takes paths and the report's
config slice so the rules stay thin.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from navref import paper
from navref.analysis.split_times import SplitTimes, relative_factor
from navref.report import tables
from navref.report.html import write_html
from navref.sweeps.plan import by_table
from navref.sweeps.stage_swap import SIZE_ORDER

if TYPE_CHECKING:  # imported by the figure rules only (seaborn / matplotlib)
    from navref.report import figures


def _stem(path: str | Path) -> Path:
    p = Path(path)
    return p.with_suffix("")


def tau_map_from(
    settings: Mapping[str, Any], split_times: SplitTimes | pd.DataFrame
) -> dict[float, float]:
    """Our stage-swap taus -> the paper's taus they stand for, through the one mapping of
    times (:func:`navref.paper.to_paper`: t_p = t x PAPER_SPLIT / our split); our taus are
    resolved with the split of ``probe_space``. A relative spec ``"s<f>"`` maps to exactly
    f x PAPER_SPLIT (the rounding of the resolved tau aside), so ``s1.0`` stands for the
    paper's 0.1 and ``s2.0`` for its 0.2. (Before 2026-11-29 the map went by position in the
    config, placing ``s0.5`` / ``s1.0`` against 0.1 / 0.2: off by a factor of 2; issue 15.
    Since 2026-12-08 the paper's split is :data:`navref.paper.PAPER_SPLIT`, no longer
    ``report.paper_split``; issue 24.)"""
    if not isinstance(split_times, SplitTimes):
        split_times = SplitTimes(split_times)
    space = settings["probe_space"]
    ours = split_times.for_space(space)
    out = {}
    for spec in settings.get("stage_swap_taus", []):
        tau = split_times.resolve(spec, space)
        factor = relative_factor(spec)
        out[tau] = round(paper.to_paper(factor * ours if factor is not None else tau, ours), 4)
    return out


def build_sweep_table(
    table_name: str,
    sweeps_path: str | Path,
    split_paths: str | Path | list,
    out: Mapping[str, str],
    settings: Mapping[str, Any],
    replicates_path: str | Path | None = None,
) -> None:
    """One sweep's table (Tab. 1, 2 or 3 beside the paper's numbers) from that sweep's
    metrics (``results/<run>/metrics/<sweep>.parquet``) and, when given, its bootstrap
    replicates (``<sweep>_bootstrap.parquet``, for the paired CIs): ``out["parquet"]``,
    ``out["md"]``, ``out["tex"]`` (:func:`navref.report.tables.write_table`, one stem) and
    ``out["html"]`` (the readable frame, for the report) and, when ``out`` has ``plot``,
    the table as a plot (:func:`navref.report.figures.fig_sweep_fid`). Stage-swap taus map to the paper's through the split
    time of ``settings["probe_space"]`` (:func:`tau_map_from`)."""
    sweep = by_table(table_name)
    tau_map = tau_map_from(settings, SplitTimes.read(split_paths)) if settings else {}
    replicates = pd.read_parquet(replicates_path) if replicates_path else None
    frame = sweep.table(pd.read_parquet(sweeps_path), tau_map, replicates)
    tables.write_table(frame, _stem(out["md"]))
    title = f"{table_name.replace('table', 'Table ')}: {sweep.kind.replace('_', ' ')}"
    write_html(out["html"], title, [("", tables.display_frame(frame))], tables.legend(frame))
    if "plot" in out:  # the table as a plot, drawn from the Parquet just written
        from navref.report import figures  # seaborn / matplotlib: only when drawn

        written = pd.read_parquet(f"{_stem(out['md'])}.parquet")
        figures.fig_sweep_fid(written, table_name, _stem(out["plot"]))


def build_sweep_grid(
    table_name: str,
    samples: Mapping[str, str | Path],
    out: Mapping[str, str],
    per_class: int = 2,
    max_cols: int = 20,
) -> None:
    """Rule ``report_sweep_grid``: the first samples of each setting of one sweep
    (``samples[setting]``: a ``sample_sweep`` file, ``images`` uint8 (N, H, W, C) and
    ``labels``; one seed) as one grid, a row per setting in the order given
    (:func:`navref.report.figures.sweep_sample_rows`): ``out["grid"]`` the bare PNG grid
    (:func:`navref.imgrid.save_grid`, 2x upscaled), ``out["figure"]`` (PNG, PDF beside it)
    the grid with the setting ids as row labels."""
    from navref.imgrid import save_grid
    from navref.io import load_npz
    from navref.report import figures  # seaborn / matplotlib: the figure rules only

    loaded = {}
    for setting, path in samples.items():
        npz = load_npz(path, "sample_sweep")
        loaded[setting] = (npz["images"], npz["labels"])
    save_grid(figures.sweep_sample_rows(loaded, per_class, max_cols), out["grid"], scale=2)
    kind = by_table(table_name).kind.replace("_", " ")
    title = f"{table_name.replace('table', 'Table ')}: {kind}, samples per setting"
    figures.fig_sweep_samples(out["grid"], list(samples), _stem(out["figure"]), title=title)


def build_split_table(split_path: str | Path, out: Mapping[str, str]) -> None:
    """The split-time table (aggregate of the oracle analysis): ``out["md"]``,
    ``out["parquet"]`` (:func:`navref.report.tables.write_split_table`) and ``out["html"]``."""
    split_times = SplitTimes.read(split_path)
    tables.write_split_table(split_times.frame, _stem(out["md"]))
    intro, sections = tables.split_sections(split_times.frame)
    write_html(out["html"], "Split times", sections, intro)


def build_claims_html(claims_path: str | Path, out_path: str | Path) -> None:
    """The claims check (``claims.parquet`` of rule ``report_claims``) as an HTML table: one
    row per claim with its verdict, criterion, numbers and reason."""
    claims = pd.read_parquet(claims_path)
    cols = [c for c in ("claim_id", "verdict", "claim", "criterion", "numbers", "why")]
    missing = [c for c in cols if c not in claims.columns]
    if missing:
        raise ValueError(f"{claims_path} lacks columns {missing}; rerun rule report_claims")
    frame = claims[cols].rename(columns={"claim_id": "#"})
    if "criterion_fixed" in claims.columns:  # claims.parquet of runs before 2026-12-08 lack it
        frame.insert(2, "criterion fixed", claims["criterion_fixed"])
    write_html(out_path, "Claims of the paper, checked on this run", [("", frame)])


def _split_arg(split_times: SplitTimes, spaces: Mapping[str, str]) -> figures.SplitArg:
    """The split time(s) to mark on a figure of models ``spaces`` (model -> latent space):
    one number when they share a space, else {space: split}; spaces without an objective
    curve are left out."""
    have = split_times.spaces()
    known = {s: split_times.for_space(s) for s in dict.fromkeys(spaces.values()) if s in have}
    if len(known) == 1:
        return next(iter(known.values()))
    return known or None


def _fig2(inputs: Mapping[str, Any], settings: Mapping[str, Any], out: Mapping[str, Any]):
    from navref.report import figures  # seaborn / matplotlib: the figure rules only

    split_times = pd.read_parquet(inputs["split_times"])
    figures.fig_objective(pd.read_parquet(inputs["objective"]), split_times, _stem(out["fig2"]))


def _fig3(inputs: Mapping[str, Any], settings: Mapping[str, Any], out: Mapping[str, Any]):
    from navref.report import figures  # seaborn / matplotlib: the figure rules only

    split_times = pd.read_parquet(inputs["split_times"])
    figures.fig_synthetic(pd.read_parquet(inputs["synthetic"]), split_times, _stem(out["fig3"]))


def _fig4(inputs: Mapping[str, Any], settings: Mapping[str, Any], out: Mapping[str, Any]):
    from navref.report import figures  # seaborn / matplotlib: the figure rules only

    sp = SplitTimes.read(inputs["split_times"])
    spaces = settings["spaces"]
    inter = pd.read_parquet(inputs["intermediate"])
    per_model = {m: sp.for_space(s) for m, s in spaces.items() if s in sp.spaces()}
    figures.fig_intermediate_grid(
        inter, dict(settings["grids"]), _stem(out["fig4_grid"]), per_model
    )
    figures.fig_intermediate_curve(inter, _stem(out["fig4_curve"]), _split_arg(sp, spaces))


def _tau_figure(probe: str, inputs, settings, out) -> None:
    """Fig. 5 (``probe`` "mixed") or Fig. 6 ("unseen"): the numbers and, per model, the
    labelled sample grid over the taus (each model's taus resolved with its space's split)."""
    from navref.report import figures  # seaborn / matplotlib: the figure rules only

    sp = SplitTimes.read(inputs["split_times"])
    spaces = settings["spaces"]
    fig, numbers, grid = {"mixed": ("fig5", figures.fig_mixed, figures.fig_mixed_grid),
                          "unseen": ("fig6", figures.fig_unseen, figures.fig_unseen_grid)}[probe]  # fmt: skip
    for model, grids in settings["grids"].items():
        split_t = sp.for_space(spaces[model]) if spaces[model] in sp.spaces() else None
        taus = {sp.resolve(spec, spaces[model]): path for spec, path in grids.items()}
        grid(taus, _stem(out[f"{fig}_grid_{model}"]), split_t, title=f"model {model}")
    numbers(pd.read_parquet(inputs[probe]), _stem(out[fig]), _split_arg(sp, spaces))


def _fig7(inputs: Mapping[str, Any], settings: Mapping[str, Any], out: Mapping[str, Any]):
    from navref.report import figures  # seaborn / matplotlib: the figure rules only

    sp = SplitTimes.read(inputs["split_times"])
    space = settings["space"]
    split_t = sp.for_space(space)
    lc = pd.read_parquet(inputs["loss_curves"])
    figures.fig_losses(lc, settings["model"], _stem(out["fig7a"]), split_t)
    figures.fig_loss_by_size(lc, _stem(out["fig7b"]), split_t, size_order=SIZE_ORDER, space=space)


def _fig9(inputs: Mapping[str, Any], settings: Mapping[str, Any], out: Mapping[str, Any]):
    from navref.report import figures  # seaborn / matplotlib: the figure rules only

    sp = SplitTimes.read(inputs["split_times"])
    models = settings["models"]  # space -> models
    splits = {s: sp.for_space(s) for s in models if s in sp.spaces()}
    lc = pd.read_parquet(inputs["loss_curves"])
    wanted = [m for ms in models.values() for m in ms]
    figures.fig_loss_by_space(lc, _stem(out["fig9"]), splits, models=wanted)


def _training(inputs: Mapping[str, Any], settings: Mapping[str, Any], out: Mapping[str, Any]):
    from navref.report import figures  # seaborn / matplotlib: the figure rules only

    logs = pd.read_parquet(inputs["train_logs"])
    figures.fig_training(logs, _stem(out["training"]), window=int(settings.get("window", 10)))


#: Paper figure -> its builder; each reads only its own inputs (rules/report.smk has one
#: rule per entry, so ``snakemake fig5`` runs only what Fig. 5 needs).
FIGURES = {
    "fig2": _fig2,
    "fig3": _fig3,
    "fig4": _fig4,
    "fig5": lambda i, s, o: _tau_figure("mixed", i, s, o),
    "fig6": lambda i, s, o: _tau_figure("unseen", i, s, o),
    "fig7": _fig7,
    "fig9": _fig9,
    "training": _training,
}


def build_figure(
    figure: str, inputs: Mapping[str, Any], settings: Mapping[str, Any], out: Mapping[str, Any]
) -> None:
    """Rule ``report_<figure>``: write the PNG / PDF files of one paper figure (a key of
    :data:`FIGURES`) from the rule's named ``inputs`` and ``out`` and its ``settings`` (the
    report settings that figure reads: ``spaces`` {model: latent space} and ``grids`` (image
    paths) for Fig. 4-6, ``model`` / ``space`` for Fig. 7, ``models`` {space: models} for
    Fig. 9). An unknown name is a ``ValueError`` listing the known ones."""
    if figure not in FIGURES:
        raise ValueError(f"no figure {figure!r}; known: {sorted(FIGURES)}")
    FIGURES[figure](inputs, settings, out)


def build_claims(
    inputs: Mapping[str, str], settings: Mapping[str, Any], md_path, parquet_path
) -> list[dict]:
    """The claims of the paper, each with its criterion, numbers and verdict, judged on
    the oracle and probe tables, on Tab. 1-3 as rule ``report_sweep_table`` wrote them, on the
    per-seed sweep table and on the sweeps' bootstrap replicates (``inputs["replicates"]``:
    one path or a list, one file per sweep; paired comparisons)."""
    from navref.report import claims as claims_mod  # scipy.stats (~1 s): this rule only

    replicates = inputs.get("replicates", [])
    paths = [replicates] if isinstance(replicates, str | Path) else list(replicates)
    read = {k: pd.read_parquet(v) for k, v in inputs.items() if k != "replicates"}
    records = claims_mod.evaluate_claims(
        claims_mod.ClaimInputs(
            **read,
            replicates=pd.concat([pd.read_parquet(p) for p in paths]) if paths else None,
            size_order=SIZE_ORDER,
            model_space=settings["probe_space"],
            semantic_space=settings.get("semantic_space"),
            other_space=settings.get("other_space"),
        )
    )
    claims_mod.write_claims(records, md_path, parquet_path)
    return records


def build_provenance(outputs: Mapping[str, str], config: Mapping[str, Any], log_dir: str) -> None:
    """Rule provenance: ``outputs["json"]`` (:func:`navref.provenance.run_record`) and its
    HTML page ``outputs["html"]`` for the report: this machine, libraries, threads, code and
    config digest, then the job records of the run's logs grouped by machine."""
    from navref import provenance
    from navref.io import save_json

    record = provenance.run_record(dict(config), Path(log_dir))
    save_json(outputs["json"], record)
    flat = {
        f"{k}.{kk}": v for k in ("machine", "libraries", "threads") for kk, v in record[k].items()
    }
    flat.update(code=record["code"], config_sha256=record["config_sha256"])
    this = pd.DataFrame({"what": list(flat), "value": [str(v) for v in flat.values()]})
    keys = list(dict.fromkeys(k for job in record["jobs_by_machine"] for k in job))
    jobs = pd.DataFrame([[str(job.get(k, "")) for k in keys] for job in record["jobs_by_machine"]],
                        columns=keys)  # fmt: skip
    intro = (
        "What produced this run. Results are bitwise reproducible only on the same CPU model, "
        "thread count and library versions; on another machine absolute FIDs move by several "
        "percent while verdicts should not (compare two runs with benchmarks/compare_runs.py "
        "--paired). The second table groups the jobs of this run by the record each logged."
    )
    write_html(
        outputs["html"],
        "Run provenance",
        [("The machine that wrote this record", this), ("Jobs by machine, code and threads", jobs)],
        intro,
    )
