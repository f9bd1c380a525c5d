# Input, param and target functions of the rules in rules/train.smk.


def model_meta():
    """What the probe and sweep tables record about each model."""
    return {
        name: {
            "space": m["space"],
            "size": m["arch"].get("size", "custom"),
            "target": m["train"]["target"],
            "steps": m["train"]["steps"],
        }
        for name, m in conf("models").items()
    }
