"""A throw-away single-node SLURM cluster on this machine, for tests of the SLURM profile.

:func:`start_cluster` installs munge and SLURM with apt-get when they are missing, writes a
private ``slurm.conf``/``gres.conf`` (two fake GPUs: symlinks to /dev/null), starts a private
``munged``, ``slurmctld`` and ``slurmd`` and waits until the node is idle.
:meth:`SlurmCluster.stop` cancels the jobs, ends every process the cluster started (daemons,
job steps, job processes) and removes the state directory, so nothing (no drained node, no
stale job) survives into the next run.

Isolation from anything else on the machine: all files live in a fresh directory under
``/var/lib/slurm-navref-test/``, the daemons listen on free ports, munge uses its own socket,
and clients find the cluster through ``SLURM_CONF`` in :attr:`SlurmCluster.env`. The one
file outside that directory is a symlink /etc/slurm/slurm.conf -> the private slurm.conf,
made only where no such file exists and removed at the end (see ``DEFAULT_CONF``). Every
process of the cluster carries ``NAVREF_SLURM_TEST_ID`` in its environment, which is how
:meth:`SlurmCluster.stop` finds the job processes that slurmd's step daemons left behind, and
how a new cluster recognises the state directories of killed test runs (and removes them).

Tested facts behind the configuration: /work/shared/notes/local-slurm.md (Debian 12,
slurm 22.05, munge 0.5.15, no systemd, no cgroups, no accounting).

:class:`ClusterUnavailable` means the machine cannot host a cluster (not root, no apt-get,
packages not installable); the test turns it into ``pytest.skip`` with the reason. A cluster
that is installed but does not come up raises ``RuntimeError`` with the daemons' logs.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = ["munge", "slurmctld", "slurmd", "slurm-client"]
BINARIES = ["munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol", "scancel"]
STATE_ROOT = Path("/var/lib/slurm-navref-test")
PARTITION = "debug"
FAKE_GPUS = 2
SBIN_PATHS = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
# snakemake-executor-plugin-slurm-jobstep drops SLURM_CONF (with every SLURM_* variable but the
# job id) before the srun inside each job, so that srun reads the default path: the cluster
# links it to its own slurm.conf while it runs (only where no other configuration is there).
DEFAULT_CONF = Path("/etc/slurm/slurm.conf")


class ClusterUnavailable(Exception):
    """This machine cannot host the test cluster; the message says why."""


def _which(name: str) -> str | None:
    path = os.pathsep.join([os.environ.get("PATH", ""), *SBIN_PATHS])
    return shutil.which(name, path=path)


def _missing_binaries() -> list[str]:
    return [b for b in BINARIES if _which(b) is None]


def _apt_install(log) -> None:
    """Install the SLURM packages; ``apt-get update`` only when the first attempt fails."""
    if _which("apt-get") is None:
        raise ClusterUnavailable("SLURM is not installed and apt-get is not available")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]

    def run(cmd: list[str]) -> subprocess.CompletedProcess:
        log(f"slurm test cluster: running {' '.join(cmd)}")
        try:
            return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired as err:
            raise ClusterUnavailable(f"{' '.join(cmd)} timed out after {err.timeout} s") from None

    res = run(install)
    if res.returncode != 0:
        upd = run(["apt-get", "update"])
        if upd.returncode != 0:
            raise ClusterUnavailable(f"apt-get update failed: {upd.stderr.strip()[-500:]}")
        res = run(install)
    if res.returncode != 0:
        raise ClusterUnavailable(
            f"apt-get install {' '.join(PACKAGES)} failed: {res.stderr.strip()[-500:]}"
        )
    if _missing_binaries():
        raise ClusterUnavailable(f"after apt-get install, still missing {_missing_binaries()}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _real_memory_mb() -> int:
    """90 % of MemTotal in MiB: at most what ``slurmd -C`` reports, else the node drains."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(int(line.split()[1]) / 1024 * 0.9)
    raise RuntimeError("MemTotal not found in /proc/meminfo")


def _user(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def _chown(path: Path, user: pwd.struct_passwd | None) -> None:
    if user is not None:
        os.chown(path, user.pw_uid, user.pw_gid)


def _tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError as err:
        return f"<{path}: {err}>"


@dataclass
class SlurmCluster:
    """A running single-node cluster; ``env`` is what a client process needs to use it."""

    root: Path
    node: str
    cpus: int
    real_memory_mb: int
    env: dict[str, str]
    test_id: str
    partition: str = PARTITION
    pids: dict[str, int] = field(default_factory=dict)
    _popen: dict[str, subprocess.Popen] = field(default_factory=dict, repr=False)

    @property
    def conf(self) -> Path:
        return self.root / "etc" / "slurm.conf"

    @property
    def ctld_log(self) -> Path:
        return self.root / "log" / "slurmctld.log"

    @property
    def slurmd_log(self) -> Path:
        return self.root / "log" / "slurmd.log"

    def run(self, *cmd: str, check: bool = True, timeout: int = 30) -> str:
        """Run a SLURM client command against this cluster; return its stdout."""
        exe = _which(cmd[0]) or cmd[0]
        res = subprocess.run(
            [exe, *cmd[1:]], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()}")
        return res.stdout

    def jobs(self) -> list[dict[str, str]]:
        """Every job the controller still knows (finished ones stay for MinJobAge), as
        ``scontrol show job -o`` key/value dicts, in job id order."""
        out = self.run("scontrol", "show", "job", "-o", "--details", check=False)
        jobs = []
        for line in out.splitlines():
            if not line.startswith("JobId="):
                continue
            job = {}
            for token in line.split():
                key, sep, value = token.partition("=")
                if sep:
                    job[key] = value
            jobs.append(job)
        return sorted(jobs, key=lambda j: int(j["JobId"]))

    def diagnostics(self) -> str:
        return (
            f"--- slurmctld log ({self.ctld_log}) ---\n{_tail(self.ctld_log)}\n"
            f"--- slurmd log ({self.slurmd_log}) ---\n{_tail(self.slurmd_log)}\n"
            f"--- munged log ---\n{_tail(self.root / 'log' / 'munged.out', 10)}"
        )

    def wait_idle(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            for name, proc in self._popen.items():
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with status {proc.returncode} while starting\n"
                        + self.diagnostics()
                    )
            res = subprocess.run(
                [_which("sinfo") or "sinfo", "-h", "-o", "%T"],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=30,
            )
            state = res.stdout.strip()
            if state == "idle":
                return
            if state.startswith(("drain", "down", "fail")):
                reason = self.run("sinfo", "-R", check=False)
                raise RuntimeError(f"node is {state}: {reason}\n" + self.diagnostics())
            time.sleep(0.5)
        raise RuntimeError(
            f"node not idle after {timeout} s (state {state!r})\n" + self.diagnostics()
        )

    def _cluster_processes(self) -> list[int]:
        return _processes_of(self.test_id)

    def stop(self, keep_state: bool = False) -> None:
        """Cancel jobs, end every process the cluster started, remove the state directory."""
        if self._popen.get("slurmctld") and self._popen["slurmctld"].poll() is None:
            with contextlib.suppress(OSError, RuntimeError, subprocess.SubprocessError):
                ids = self.run("squeue", "-h", "-o", "%i", check=False).split()
                if ids:
                    self.run("scancel", *ids, check=False)
                    deadline = time.monotonic() + 15
                    while (
                        time.monotonic() < deadline
                        and self.run(
                            "squeue", "-h", "-o", "%i", "-t", "PD,R,CG", check=False
                        ).split()
                    ):
                        time.sleep(0.5)
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self._popen.get(name)
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        # job steps (slurmstepd) and job processes detach from slurmd: find them by marker
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = self._cluster_processes()
            for pid in pids:
                with contextlib.suppress(OSError, RuntimeError, subprocess.SubprocessError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + 5
            while pids and time.monotonic() < deadline:
                pids = [p for p in pids if Path(f"/proc/{p}").exists() and not _zombie(p)]
                time.sleep(0.2)
            if not pids:
                break
        _release_default_conf(self.conf)
        if not keep_state:
            shutil.rmtree(self.root, ignore_errors=True)


def _processes_of(test_id: str) -> list[int]:
    """PIDs of processes whose environment carries ``NAVREF_SLURM_TEST_ID=test_id``."""
    marker = f"NAVREF_SLURM_TEST_ID={test_id}".encode()
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def _remove_stale_state() -> None:
    """Remove state directories of earlier test clusters none of whose processes is alive."""
    if STATE_ROOT.is_dir():
        for old in STATE_ROOT.iterdir():
            if old.is_dir() and not _processes_of(old.name):
                shutil.rmtree(old, ignore_errors=True)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True


def _claim_default_conf(conf: Path) -> None:
    """Point /etc/slurm/slurm.conf at ``conf``; refuse to replace a real or live configuration."""
    link = DEFAULT_CONF
    if link.is_symlink():
        target = Path(os.readlink(link))
        if STATE_ROOT in target.parents and not target.exists():
            link.unlink()  # left by a test run that was killed
        else:
            raise ClusterUnavailable(
                f"{link} points to {target} (another SLURM test cluster is running?)"
            )
    elif link.exists():
        raise ClusterUnavailable(
            f"{link} exists: this machine has a SLURM configuration, which the test does not touch"
        )
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(conf)


def _release_default_conf(conf: Path) -> None:
    if DEFAULT_CONF.is_symlink() and Path(os.readlink(DEFAULT_CONF)) == conf:
        DEFAULT_CONF.unlink()


def _write_conf(root: Path, node: str, cpus: int, mem: int, munge_socket: Path) -> None:
    etc = root / "etc"
    gpu_dir = root / "fakegpu"
    for i in range(FAKE_GPUS):
        (gpu_dir / f"gpu{i}").symlink_to("/dev/null")  # File= must be a character device
    slurm = _user("slurm")
    slurm_user = "slurm" if slurm is not None else "root"
    (etc / "slurm.conf").write_text(
        f"""# navref test cluster ({root}); written by tests/pipeline/slurm_cluster.py
ClusterName=navreftest
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser={slurm_user}
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket}
StateSaveLocation={root}/state/slurmctld
SlurmdSpoolDir={root}/state/slurmd
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
MailProg=/bin/true
ReturnToService=2
MpiDefault=none
MinJobAge=600
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
GresTypes=gpu
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem} Gres=gpu:fake:{FAKE_GPUS} State=UNKNOWN
PartitionName={PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
    )
    (etc / "gres.conf").write_text(
        "AutoDetect=off\n"
        f"NodeName={node} Name=gpu Type=fake File={gpu_dir}/gpu[0-{FAKE_GPUS - 1}]\n"
    )
    for d in ("state/slurmctld", "log"):
        _chown(root / d, slurm)


def start_cluster(log=print, start_timeout: float = 60) -> SlurmCluster:
    """Install (if needed) and start a private single-node cluster; see the module docstring.

    Raises :class:`ClusterUnavailable` when this machine cannot host one.
    """
    if os.name != "posix" or os.geteuid() != 0:
        raise ClusterUnavailable("needs root (installs packages, starts munged/slurmctld/slurmd)")
    if os.environ.get("NAVREF_SKIP_SLURM"):
        raise ClusterUnavailable("NAVREF_SKIP_SLURM is set")
    if _missing_binaries():
        log(f"slurm test cluster: missing {_missing_binaries()}, installing {PACKAGES}")
        _apt_install(log)
    munge = _user("munge")
    if munge is None:
        raise ClusterUnavailable("user 'munge' does not exist (munge package incomplete)")
    key = Path("/etc/munge/munge.key")
    if not key.exists():
        raise ClusterUnavailable(f"{key} is missing (the munge package creates it)")

    test_id = uuid.uuid4().hex[:12]
    _remove_stale_state()
    STATE_ROOT.mkdir(mode=0o755, parents=True, exist_ok=True)
    root = STATE_ROOT / test_id
    for d in ("etc", "fakegpu", "state/slurmctld", "state/slurmd", "log", "run", "munge"):
        (root / d).mkdir(mode=0o755, parents=True)
    os.chmod(root, 0o755)
    _chown(root / "munge", munge)
    munge_socket = root / "munge" / "munge.socket"
    node = socket.gethostname().split(".")[0]
    cpus = os.cpu_count() or 1
    mem = _real_memory_mb()
    _write_conf(root, node, cpus, mem, munge_socket)
    try:
        _claim_default_conf(root / "etc" / "slurm.conf")
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise

    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_"))}
    base_env.pop("CUDA_VISIBLE_DEVICES", None)
    base_env["PATH"] = os.pathsep.join([base_env.get("PATH", ""), *SBIN_PATHS])
    env = {
        **base_env,
        "SLURM_CONF": str(root / "etc" / "slurm.conf"),
        "NAVREF_SLURM_TEST_ID": test_id,
    }
    cluster = SlurmCluster(
        root=root, node=node, cpus=cpus, real_memory_mb=mem, env=env, test_id=test_id
    )
    log(
        f"slurm test cluster: node {node}, {cpus} CPUs, {mem} MiB, {FAKE_GPUS} fake GPUs, state {root}"
    )

    def spawn(name: str, cmd: list[str], logfile: Path, user=None) -> None:
        out = open(logfile, "ab")
        as_user = {}
        if user is not None:  # our direct child (not via runuser): stop() can reap it
            as_user = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        cluster._popen[name] = subprocess.Popen(
            cmd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            **as_user,
        )
        out.close()
        cluster.pids[name] = cluster._popen[name].pid

    try:
        spawn(
            "munged",
            [
                _which("munged") or "munged",
                "--foreground",
                f"--socket={munge_socket}",
                f"--pid-file={root}/munge/munged.pid",
                f"--seed-file={root}/munge/munged.seed",
                f"--log-file={root}/munge/munged.log",
                f"--key-file={key}",
            ],
            root / "log" / "munged.out",
            user=munge,
        )
        deadline = time.monotonic() + 15
        while not munge_socket.exists():
            if cluster._popen["munged"].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "munged did not start:\n"
                    + _tail(root / "log" / "munged.out")
                    + "\n"
                    + _tail(root / "munge" / "munged.log")
                )
            time.sleep(0.1)
        conf = str(cluster.conf)
        spawn(
            "slurmctld",
            [_which("slurmctld") or "slurmctld", "-D", "-f", conf],
            root / "log" / "slurmctld.out",
        )
        spawn(
            "slurmd", [_which("slurmd") or "slurmd", "-D", "-f", conf], root / "log" / "slurmd.out"
        )
        cluster.wait_idle(start_timeout)
    except BaseException:
        cluster.stop(keep_state=bool(os.environ.get("NAVREF_KEEP_SLURM")))
        raise
    log(f"slurm test cluster: up (pids {cluster.pids})")
    return cluster
