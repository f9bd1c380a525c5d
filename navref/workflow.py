"""Glue for Snakemake ``script:`` entry points: per-rule logs, devices, clean failures.

Every script in ``workflow_scripts/`` runs its body inside :func:`rule_context`, which
sends Python logging, warnings and stderr (tqdm progress bars) to the rule's ``log:``
file and turns the project's expected errors (bad data, missing weights, bad config) into
a one-paragraph message instead of a traceback.

Fixed cost per job: :func:`rule_context` logs ``navref: ready after X.XX s since process
start`` once the job's imports and set-up are done (the body's first line of work), and
:func:`mark` logs ``navref: <what> after X.XX s since process start`` (e.g. ``inputs loaded``);
``benchmarks/pipeline_time.py`` reads both from the rule logs. torch is not imported here:
a job that never needs it (tables, reports) does not pay for it.

A job's process ends as soon as its :func:`rule_context` block ends without an error
(:func:`_end_job_process`): the interpreter's teardown of torch, diffusers and torch-fidelity
took 0.4-1.1 s per job here and frees nothing a finished job needs. Inside the block the
cyclic garbage collector runs less often (:data:`JOB_GC_THRESHOLD`): the libraries a job
imports lazily (diffusers, torch-fidelity) allocate hundreds of thousands of objects, and
collecting every 700 of them took 0.5-0.65 s of their 2.5 s import.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

from navref import provenance

EXPECTED_ERRORS = (ValueError, FileNotFoundError, RuntimeError, KeyError)

# Loggers whose records go to the rule log, with their level: navref's own, Python warnings
# (``logging.captureWarnings``) and libraries that log rather than warn.
JOB_LOGGERS = {"navref": logging.INFO, "py.warnings": logging.WARNING, "diffusers": logging.WARNING}

# Known-harmless library messages, dropped by (logger name, message start): diffusers asks
# for `accelerate` (only a loading-speed hint) every time a VAE is loaded.
HARMLESS_LOG_RECORDS = (
    ("diffusers.models.modeling_utils", "Cannot initialize model with low cpu memory usage"),
)


class _DropMessage(logging.Filter):
    """Drop log records whose message starts with ``start``."""

    def __init__(self, start: str) -> None:
        super().__init__()
        self.start = start

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.start)


def drop_harmless_messages() -> None:
    """Install the :data:`HARMLESS_LOG_RECORDS` filters (once: repeated calls add nothing)."""
    for name, start in HARMLESS_LOG_RECORDS:
        target = logging.getLogger(name)
        if not any(isinstance(f, _DropMessage) and f.start == start for f in target.filters):
            target.addFilter(_DropMessage(start))


def resolve_device(name: str = "auto") -> str:
    """A config's ``device`` (auto / cpu / cuda / cuda:N) as the device string a job uses;
    the rule is :func:`navref.devices.resolve_device` (``cuda`` without a GPU is an error)."""
    from navref import devices

    return str(devices.resolve_device(name))


#: Prefix of the fixed-cost lines in rule logs (parsed by ``benchmarks/pipeline_time.py``).
READY_PREFIX = "navref: "
READY_SUFFIX = " s since process start"


def seconds_since_process_start() -> float | None:
    """Wall seconds since this process started (Linux: ``/proc/self/stat`` field 22 against
    ``/proc/uptime``, 10 ms resolution; elsewhere psutil's ``create_time``); None when
    neither is available."""
    try:
        stat = Path("/proc/self/stat").read_text()
        start_ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22, after comm
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        return max(0.0, time.time() - psutil.Process().create_time())
    except (ImportError, OSError):
        return None


def mark(log: logging.Logger, what: str = "ready") -> None:
    """Log ``navref: <what> after X.XX s since process start`` (nothing if the start time is
    unknown): the fixed cost of a job up to this point."""
    elapsed = seconds_since_process_start()
    if elapsed is not None:
        log.info("%s%s after %.2f%s", READY_PREFIX, what, elapsed, READY_SUFFIX)


def _set_threads(threads: int) -> None:
    """CPU threads of torch (and OpenMP / MKL): set now if torch is imported, else through the
    environment that torch reads when a later import loads it."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


class LogLines:
    """A text stream for the rule log that keeps every line whole: tqdm redraws its bar with
    a carriage return and no newline, so the next log record would be glued onto the bar in
    a file; here each redraw becomes its own newline-terminated line (a redraw equal to the
    line before it, e.g. tqdm's final refresh on close, is written once; blank redraws, e.g.
    a ``leave=False`` bar clearing itself, not at all)."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self._last = ""

    def write(self, text: str) -> int:
        for part in text.replace("\r\n", "\n").split("\r"):
            line = part if part.endswith("\n") else part + "\n"
            if part.strip() and line != self._last:
                self.stream.write(line)
                self._last = line
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False


def _route(name: str, handlers: list, level: int, propagate: bool) -> tuple[list, int, bool]:
    """Give logger ``name`` these handlers, level and propagation; return the old ones."""
    target = logging.getLogger(name)
    old = (target.handlers, target.level, target.propagate)
    target.handlers, target.propagate = list(handlers), propagate
    target.setLevel(level)
    return old


def _booked_gpus(snakemake) -> int:
    """GPUs the job booked (its ``gpu`` resource; 0 when none)."""
    return int(getattr(getattr(snakemake, "resources", None), "gpu", 0) or 0)


def _device_setting(snakemake) -> str:
    """The config's ``device`` as the rule passed it (``params.device``), else ``auto``."""
    return str(getattr(getattr(snakemake, "params", None), "device", "auto") or "auto")


def job_precision(snakemake) -> str:
    """The precision of the job's network forwards (:mod:`navref.precision`): the rule's
    ``params.precision`` (the config's top-level ``precision``, or a section's own such as
    ``sweeps.precision``), ``fp32`` when the rule passes none; ``auto`` is resolved on the
    job's device (:func:`navref.precision.resolve_precision`, logged by the caller); an
    unknown value raises ``ValueError``."""
    from navref.precision import resolve_precision

    params = getattr(snakemake, "params", None)
    precision = str(getattr(params, "precision", "fp32") or "fp32")
    if precision != "auto":
        return resolve_precision(precision, "cpu")
    return resolve_precision(precision, resolve_device(_device_setting(snakemake)))


@contextlib.contextmanager
def _job_device(snakemake, logger: logging.Logger, threads: int) -> Iterator[None]:
    """Claim the job's booked GPUs (:func:`navref.devices.local_gpu_claim`), check them and
    log the device; a rule without ``params.device`` and without GPUs runs on the CPU and is
    not made to import torch for it."""
    device, gpus = _device_setting(snakemake), _booked_gpus(snakemake)
    has_device = hasattr(getattr(snakemake, "params", None), "device")
    if not has_device and gpus == 0 and "torch" not in sys.modules:
        logger.info("device: cpu, %d thread(s)", threads)
        yield
        return
    from navref import devices

    with devices.local_gpu_claim(gpus, device) as claimed:
        if claimed:
            logger.info("claimed GPU(s) %s of this machine", claimed)
        devices.check_booked_gpus(gpus, device)
        logger.info(devices.describe(devices.resolve_device(device), threads))
        yield


#: ``gc.set_threshold`` inside :func:`rule_context` (Python's default is (700, 10, 10)):
#: generation-0 collections every 100000 allocations instead of 700; only cyclic garbage
#: waits longer (reference counting frees the rest at once). The default run's peak memory
#: per job did not grow with it (train_model 1203 -> 1209 MB, sample_sweep 1232 -> 1223 MB).
JOB_GC_THRESHOLD = (100_000, 50, 100)


def _is_script_job(snakemake) -> bool:
    """True in the process Snakemake started for a ``script:`` job (its ``snakemake`` object is
    a ``snakemake.iocontainers.Snakemake``, which the script's preamble imports); False for
    the stand-ins that tests pass."""
    module = sys.modules.get("snakemake.iocontainers")
    return module is not None and isinstance(snakemake, module.Snakemake)


def _end_job_process() -> None:
    """End a finished job's process now, exit status 0: flush and close the logging handlers
    and the standard streams, then skip the interpreter's teardown (``os._exit``). Safe
    because a job's outputs are complete files by then (written, closed and renamed:
    :func:`navref.io.atomic_path`) and its rule log is closed."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


@contextlib.contextmanager
def rule_context(snakemake, name: str | None = None) -> Iterator[logging.Logger]:
    """Log to ``snakemake.log[0]`` (and stderr), set threads, report failures cleanly.

    In a Snakemake ``script:`` job the process ends with status 0 when the block ends
    without an error (:func:`_end_job_process`): nothing after the ``with`` block runs, so
    it must be the script's last statement (every script in ``workflow_scripts/`` is).
    Expected errors end it with a one-paragraph message (``SystemExit``), others with
    their traceback."""
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
    saved = {lib: _route(lib, handlers, level, False) for lib, level in JOB_LOGGERS.items()}
    logging.captureWarnings(True)
    drop_harmless_messages()
    threads = max(1, int(getattr(snakemake, "threads", 1)))
    _set_threads(threads)
    gc_threshold = gc.get_threshold()
    gc.set_threshold(*JOB_GC_THRESHOLD)
    old_stderr = sys.stderr
    if stream is not None:
        sys.stderr = LogLines(stream)  # tqdm and library warnings go to the rule's log
    wildcards = dict(getattr(snakemake, "wildcards", {}).items())
    logger.info("rule %s %s", name, wildcards)
    logger.info("CUDA_VISIBLE_DEVICES=%s", os.environ.get("CUDA_VISIBLE_DEVICES"))
    try:
        with _job_device(snakemake, logger, threads):
            mark(logger)
            yield logger
        logger.info("%s%s", provenance.JOB_PREFIX, json.dumps(provenance.job_record()))
    except EXPECTED_ERRORS as err:
        if stream is not None:
            stream.write(traceback.format_exc())
        sys.stderr = old_stderr
        msg = f"navref: rule {name} {wildcards} failed: {type(err).__name__}: {err}"
        logger.error(msg)
        raise SystemExit(msg) from None
    finally:
        gc.set_threshold(*gc_threshold)
        sys.stderr = old_stderr
        logging.captureWarnings(False)
        for h in handlers:
            logger.removeHandler(h)
        for lib, (old_handlers, level, propagate) in saved.items():
            _route(lib, old_handlers, level, propagate)
        if stream is not None:
            stream.close()
    if _is_script_job(snakemake):
        _end_job_process()
