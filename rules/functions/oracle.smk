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
