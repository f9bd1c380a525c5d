# Input, param and target functions of the rules in rules/oracle.smk.


ORACLE_SPACES = conf("oracle", "objective").get("spaces", SPACES)
ORACLE_MODES = conf("oracle", "objective", "modes")


def oracle_params(part):
    """The slice of the oracle config that one analysis needs (its part, grid, chunking),
    without the selectors that only decide which jobs exist."""
    selectors = {"spaces", "modes", "dims", "sizes"}
    return {
        **{k: v for k, v in conf("oracle", part).items() if k not in selectors},
        "t_grid": t_grid(conf("oracle", "t_grid")),
        "chunk_size": conf("oracle", "chunk_size"),
    }


def split_time_file(space):
    """The split-time file a job of latent space ``space`` reads: the space's own file
    (rule oracle_split_time), so adding a space or a synthetic size reruns none of the other
    spaces' jobs; a space left out of oracle.objective.spaces reads the aggregate table
    (which then names the problem if a relative time needs it)."""
    if space in ORACLE_SPACES:
        return f"{RESULTS}/oracle/split_times/{space}.parquet"
    return SPLIT_TIMES


def space_objective_files(w):
    """The objective curves (every configured mode) of latent space ``w.space``."""
    return expand(
        f"{RESULTS}/oracle/objective/{{space}}_{{mode}}.parquet",
        space=w.space,
        mode=ORACLE_MODES,
    )
