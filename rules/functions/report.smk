# Input, param and target functions of the rules in rules/report.smk.


def report_settings():
    """The report's config slice, with defaults derived from the models and probes."""
    settings = dict(conf("report"))
    probed = probe_models("loss_curves")
    settings.setdefault("model", probed[0] if probed else None)
    if settings["model"]:
        settings.setdefault("probe_space", model_space(settings["model"]))
        settings.setdefault(
            "space_size", model_size(config["models"][settings["model"]])
        )
    settings["stage_swap_taus"] = [
        str(t) for t in conf("sweeps", "stage_swap").get("taus", [])
    ]
    settings["intermediate_grids"] = {
        m: f"results/probes/intermediate/{m}.png" for m in probe_models("intermediate")
    }
    settings["mixed_grids"] = {
        m: {
            str(t): f"results/probes/mixed/{m}/tau{t}.png"
            for t in probe_conf("mixed")["taus"]
        }
        for m in probe_models("mixed")
    }
    return settings


def report_params(*keys):
    """Only the report settings a rule reads, so e.g. a new probe tau does not redo the tables."""
    settings = report_settings()
    return {k: settings[k] for k in keys if k in settings}


def figure(name, caption, category, subcategory=None):
    """A report figure: PNG for the report, PDF beside it."""
    return report(
        f"results/figures/{name}.png",
        caption=f"../report/captions/{caption}.rst",
        category=category,
        subcategory=subcategory,
    )


def sweep_tables():
    """The table names of the sweeps (table1, table2, table3)."""
    return [get_sweep(k, {}).table_name for k in SWEEP_KINDS]


def table_outputs():
    """Each sweep's table (Markdown in the report; Parquet and LaTeX beside it) and the
    split-time table, keyed by table name (navref.sweeps names each sweep's table)."""
    names = [*sweep_tables(), "split_times"]
    return {
        name: report(
            f"results/tables/{name}.md",
            caption=f"../report/captions/{name}.rst",
            category="Tables",
        )
        for name in names
    }
