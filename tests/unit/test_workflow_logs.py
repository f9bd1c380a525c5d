"""Issue 13, case 9: every warning raised in a job lands in its rule log."""

from __future__ import annotations

import logging
import warnings
from types import SimpleNamespace

from navref.workflow import HARMLESS_LOG_RECORDS, _DropMessage, rule_context


def _job(tmp_path):
    return SimpleNamespace(log=[str(tmp_path / "rule.log")], rule="demo", threads=1, wildcards={})


def test_python_and_library_warnings_reach_the_rule_log(tmp_path):
    with rule_context(_job(tmp_path)):
        warnings.warn("KID subset 1000 shrunk to the 200 samples", UserWarning, stacklevel=1)
        logging.getLogger("navref.metrics").warning("navref's own logged warning")
    text = (tmp_path / "rule.log").read_text()
    assert "UserWarning: KID subset 1000 shrunk to the 200 samples" in text
    assert "navref's own logged warning" in text
    assert logging.getLogger("navref").propagate and not logging.getLogger("py.warnings").handlers


def test_known_harmless_messages_are_dropped_by_name_once(tmp_path):
    name, start = HARMLESS_LOG_RECORDS[0]
    for _ in range(2):  # a second job in the same process must not add a second filter
        with rule_context(_job(tmp_path)):
            logging.getLogger(name).warning(start + " because `accelerate` was not found")
            logging.getLogger(name).warning("a diffusers warning that matters")
    text = (tmp_path / "rule.log").read_text()
    assert start not in text
    assert text.count("a diffusers warning that matters") == 2
    ours = [f for f in logging.getLogger(name).filters if isinstance(f, _DropMessage)]
    assert len(ours) == 1  # (diffusers adds its own filters once it is imported)


def test_log_lines_keep_tqdm_redraws_and_log_records_apart(tmp_path):
    import io

    from tqdm import tqdm

    from navref.workflow import LogLines

    raw = io.StringIO()
    stream = LogLines(raw)
    for _ in tqdm(range(3), desc="sample", file=stream, mininterval=0, miniters=1):
        pass
    stream.write("12:00:00 INFO after the bar\n")
    lines = raw.getvalue().split("\n")
    assert "\r" not in raw.getvalue() and raw.getvalue().endswith("\n")
    assert lines[-2] == "12:00:00 INFO after the bar"  # its own line, not glued to the bar
    assert any(line.startswith("sample: 100%") and "3/3" in line for line in lines)
    raw.seek(0), raw.truncate()
    stream.write("\rbar 100%")
    stream.write("\rbar 100%")  # tqdm's close() repeats its last redraw: written once
    stream.write("\r        \r")  # a leave=False bar clearing itself: nothing
    assert raw.getvalue() == "bar 100%\n"


_SCRIPT_JOB = """
import sys
from snakemake.iocontainers import Snakemake
from navref.workflow import rule_context

sm = Snakemake.__new__(Snakemake)  # the object the preamble of a script: job unpickles
sm.log, sm.rule, sm.threads, sm.wildcards = [sys.argv[1]], "demo", 1, {{}}
with rule_context(sm) as log:
    log.info("last line of work")
    sys.stdout.write("buffered stdout of the job")
    {body}
print("after the block")
"""


def _run_script_job(tmp_path, body: str):
    import subprocess
    import sys

    from conftest import REPO

    script = tmp_path / "job.py"
    script.write_text(_SCRIPT_JOB.format(body=body))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, str(script), str(tmp_path / "rule.log")],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip


def test_a_finished_script_job_ends_its_process_at_once_with_its_output_flushed(tmp_path):
    """In a real script: job (a snakemake.iocontainers.Snakemake object) the process ends
    when the block ends (status 0, nothing after it runs), with the rule log and the
    buffered standard streams flushed; in tests (stand-in objects) it does not."""
    done = _run_script_job(tmp_path, "pass")
    assert done.returncode == 0, done.stderr
    assert "buffered stdout of the job" in done.stdout
    assert "after the block" not in done.stdout
    assert "last line of work" in (tmp_path / "rule.log").read_text()
    failed = _run_script_job(tmp_path, "raise ValueError('bad input: fix it')")
    assert failed.returncode == 1 and "after the block" not in failed.stdout
    assert "failed: ValueError: bad input: fix it" in (tmp_path / "rule.log").read_text()
    with rule_context(_job(tmp_path)):
        pass  # a stand-in: this test process goes on


def test_the_job_block_collects_cyclic_garbage_less_often_and_restores_the_setting(tmp_path):
    import gc

    from navref.workflow import JOB_GC_THRESHOLD

    before = gc.get_threshold()
    assert before != JOB_GC_THRESHOLD
    with rule_context(_job(tmp_path)):
        assert gc.get_threshold() == JOB_GC_THRESHOLD
    assert gc.get_threshold() == before


def test_every_workflow_script_ends_with_its_rule_context_block():
    """The job's process ends when the block ends (navref.workflow._end_job_process): a
    statement after it in a script would silently never run."""
    import ast

    from conftest import REPO

    scripts = sorted((REPO / "workflow_scripts").glob("*.py"))
    assert scripts
    for script in scripts:
        last = ast.parse(script.read_text()).body[-1]
        assert isinstance(last, ast.With), f"{script.name}: the last statement is not a with"
        assert "rule_context(" in ast.unparse(last.items[0]), script.name
