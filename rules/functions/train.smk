# Input, param and target functions of the rules in rules/train.smk.

from navref.io import file_signature


def model_meta():
    """What the probe and sweep tables record about each model (a released model: its
    release's size name, target "cfm" (the releases regress the velocity x1 - x0), the
    training steps its config states).
    """
    return {
        name: {
            "space": m["space"],
            "size": model_size(m) or "custom",
            "target": m["train"]["target"] if "train" in m else "cfm",
            "steps": m["train"]["steps"] if "train" in m else m["steps"],
        }
        for name, m in conf("models").items()
    }


def link_params(model):
    """A released model's config entry and its checkpoint's size / mtime (a replaced file
    relinks the model and reruns every job that used it)."""
    settings = config["models"][model]
    return {"settings": settings, "signature": file_signature(settings["pretrained"])}
