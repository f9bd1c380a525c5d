"""Provenance of runs and jobs (navref.provenance): what produced a result."""

from __future__ import annotations

import json
import subprocess
from types import SimpleNamespace

from navref import provenance
from navref.workflow import rule_context


def test_config_digest_follows_values_not_key_order():
    a = {"seed": 0, "train": {"lr": 1e-3, "steps": 30}}
    b = {"train": {"steps": 30, "lr": 1e-3}, "seed": 0}
    assert provenance.config_digest(a) == provenance.config_digest(b)
    b["train"]["steps"] = 31
    assert provenance.config_digest(a) != provenance.config_digest(b)


def test_machine_names_the_cpu_of_proc_cpuinfo():
    text = open("/proc/cpuinfo").read()
    model = next(
        ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")
    )
    info = provenance.machine()
    assert info["cpu_model"] == model and info["cpus_usable"] >= 1
    flags = set(next(ln for ln in text.splitlines() if ln.startswith("flags")).split())
    assert set(info["cpu_flags"]) == flags & set(provenance.CPU_FLAGS)


def test_code_state_marks_a_dirty_tree(tmp_path, monkeypatch):
    monkeypatch.delenv(provenance.CODE_ENV, raising=False)
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "f").write_text("1")
    subprocess.run([*git, "add", "f"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    head = provenance.code_state(tmp_path)
    assert len(head) == 12 and not head.endswith("-dirty")
    (tmp_path / "f").write_text("2")
    assert provenance.code_state(tmp_path) == head + "-dirty"
    monkeypatch.setenv(provenance.CODE_ENV, "abc-dirty")
    assert provenance.code_state(tmp_path) == "abc-dirty"
    assert provenance.code_state(tmp_path / "nowhere") == "abc-dirty"


def test_every_job_logs_its_record_and_the_run_tallies_them(tmp_path, monkeypatch):
    monkeypatch.setenv(provenance.CODE_ENV, "c0ffee")
    logs = tmp_path / "logs"
    for name in ("a", "b"):
        job = SimpleNamespace(log=[str(logs / f"{name}.log")], rule=name, threads=1, wildcards={})
        with rule_context(job):
            pass
    (logs / "sub").mkdir()
    (logs / "sub" / "failed.log").write_text("a job that failed before its record\n")
    other = {"cpu_model": "Other CPU", "code": "c0ffee"}
    (logs / "sub" / "other.log").write_text(provenance.JOB_PREFIX + json.dumps(other) + "\n")
    (logs / "provenance.log").write_text("the calling job's own log is skipped\n")
    line = [ln for ln in (logs / "a.log").read_text().splitlines() if provenance.JOB_PREFIX in ln]
    record = json.loads(line[0].split(provenance.JOB_PREFIX, 1)[1])
    assert record["cpu_model"] == provenance.machine()["cpu_model"] and record["code"] == "c0ffee"
    tally = provenance.job_records(logs)
    assert tally[0] == {**record, "jobs": 2}
    assert {"unrecorded": True, "jobs": 1} in tally and {**other, "jobs": 1} in tally
    assert sum(t["jobs"] for t in tally) == 4
