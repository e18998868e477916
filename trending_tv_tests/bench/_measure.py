"""Measuring a command the way an operator runs it: a fresh process (cold), its wall time, and the peak
resident memory of its whole process tree (a local Spark driver is a Python process and its JVM)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Measured:
    wall_s: float
    peak_tree_mb: float  # the largest sum of RSS over the tree, sampled every 50 ms
    peak_tree_pss_mb: float = 0.0  # the same with PSS (sampled every 0.5 s): shared pages divided
    peak_by_process_mb: dict[str, float] = field(default_factory=dict)  # command name -> its largest RSS
    stdout: str = ""
    stderr: str = ""
    load_before: float = 0.0  # 1-minute load average when the command started


def _rss_mb(pid: int) -> tuple[str, float] | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    name, rss = "?", 0.0
    for line in status.splitlines():
        if line.startswith("Name:"):
            name = line.split(None, 1)[1]
        elif line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    return name, rss


def _pss_mb(pid: int) -> float:
    """Proportional set size: each shared page divided among the processes that map it (forked
    PySpark workers share most of their pages with their daemon)."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0.0
    return next((int(line.split()[1]) / 1024 for line in rollup.splitlines() if line.startswith("Pss:")), 0.0)


def _children(pid: int) -> list[int]:
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
        except OSError:
            continue
    return found


def _tree(root: int) -> list[int]:
    pids, pending = [], [root]
    while pending:
        pid = pending.pop()
        pids.append(pid)
        pending += _children(pid)
    return pids


def load_average() -> float:
    return os.getloadavg()[0]


def run_measured(command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Measured:
    """Run `command` to completion (it must exit 0) and measure it."""
    peak_tree, peak_pss, peak_by_name = 0.0, 0.0, {}
    load = load_average()
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_tree, peak_pss
        tick = 0
        while not done.is_set():
            # PSS makes the kernel walk every mapping: read it every 10th sample (0.5 s), so the
            # sampler does not slow down what it measures.
            with_pss, tick = tick % 10 == 0, tick + 1
            total = pss = 0.0
            for pid in _tree(proc.pid):
                rss = _rss_mb(pid)
                if rss is None:
                    continue
                total += rss[1]
                pss += _pss_mb(pid) if with_pss else 0.0
                peak_by_name[rss[0]] = max(peak_by_name.get(rss[0], 0.0), rss[1])
            peak_tree, peak_pss = max(peak_tree, total), max(peak_pss, pss)
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{command} exited {proc.returncode}:\n{stdout[-3000:]}\n{stderr[-3000:]}")
    return Measured(wall, peak_tree, peak_pss, peak_by_name, stdout, stderr, load)
