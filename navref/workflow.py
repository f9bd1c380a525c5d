"""Glue for Snakemake ``script:`` entry points: per-rule logs, devices, clean failures.

Every script in ``workflow_scripts/`` runs its body inside :func:`rule_context`, which
sends Python logging, warnings and stderr (tqdm progress bars) to the rule's ``log:``
file and turns the project's expected errors (bad data, missing weights, bad config) into
a one-paragraph message instead of a traceback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

import torch

from navref import devices

EXPECTED_ERRORS = (ValueError, FileNotFoundError, RuntimeError, KeyError)


def resolve_device(name: str = "auto") -> str:
    """A config's ``device`` (auto / cpu / cuda / cuda:N) as the device string a job uses;
    the rule is :func:`navref.devices.resolve_device` (``cuda`` without a GPU is an error)."""
    return str(devices.resolve_device(name))


@contextlib.contextmanager
def rule_context(snakemake, name: str | None = None) -> Iterator[logging.Logger]:
    """Log to ``snakemake.log[0]`` (and stderr), set threads, report failures cleanly."""
    log_path = Path(snakemake.log[0]) if len(snakemake.log) else None
    name = name or getattr(snakemake, "rule", "navref")
    logger = logging.getLogger(f"navref.{name}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.__stderr__)]
    stream = None
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        stream = open(log_path, "a", buffering=1)
        handlers.append(logging.StreamHandler(stream))
    for h in handlers:
        h.setFormatter(fmt)
        logger.addHandler(h)
    for lib in ("navref",):
        logging.getLogger(lib).handlers = handlers
        logging.getLogger(lib).setLevel(logging.INFO)
    logging.captureWarnings(True)
    torch.set_num_threads(max(1, int(getattr(snakemake, "threads", 1))))
    old_stderr = sys.stderr
    if stream is not None:
        sys.stderr = stream  # tqdm and library warnings go to the rule's log
    wildcards = dict(getattr(snakemake, "wildcards", {}).items())
    logger.info("rule %s %s", name, wildcards)
    logger.info("CUDA_VISIBLE_DEVICES=%s", os.environ.get("CUDA_VISIBLE_DEVICES"))
    try:
        yield logger
    except EXPECTED_ERRORS as err:
        if stream is not None:
            stream.write(traceback.format_exc())
        sys.stderr = old_stderr
        msg = f"navref: rule {name} {wildcards} failed: {type(err).__name__}: {err}"
        logger.error(msg)
        raise SystemExit(msg) from None
    finally:
        sys.stderr = old_stderr
        for h in handlers:
            logger.removeHandler(h)
        if stream is not None:
            stream.close()
