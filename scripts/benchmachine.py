"""What the benchmark scripts print about the machine and the code they measured (shared by scripts/bench_*.py,
which find it beside them: a script's own folder is the first entry of its import path)."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def nproc() -> int:
    """The CPUs this process may run on (a container's share, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def memory_total() -> str:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB RAM"
    return "RAM unknown"


def tool_version(command: list[str]) -> str:
    with contextlib.suppress(OSError, IndexError):
        out = subprocess.run(command, capture_output=True, text=True, timeout=10)
        return (out.stdout + out.stderr).strip().splitlines()[0]
    return "unknown"


def package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def code_version(paths: list[str]) -> str:
    """The commit measured, and which of the files under `paths` (what the benchmark exercises) differ from it."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", *paths], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return f"{ROOT} (not a git checkout)"
    files = [line[3:] for line in changed.splitlines() if line.strip()]
    if not files:
        return f"{ROOT} at {commit}"
    return (
        f"{ROOT} at {commit}, with uncommitted changes in {len(files)} file(s): "
        + ", ".join(files[:8])
        + (", ..." if len(files) > 8 else "")
    )
