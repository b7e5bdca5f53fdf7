"""Will a user's model fit in memory? Decided from the file's size, before Keras reads it.

A conversion holds many copies of the weights at once (tf2onnx above all: it freezes the
variables into constants, optimizes and serializes the graph, each a copy), on top of what
the frameworks themselves take. A model
that cannot fit is refused up front, with the figures, rather than killed by the kernel
half-way through a stage. ``--memory-budget`` overrides what is taken as available.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from pipeline.errors import BadInputError

# Measured (README, "Limits"; ru_maxrss): export is the largest stage. For a 201 MB .keras
# (three Dense layers, 50M weights) it peaks at 9.7 GB, of which tf2onnx's conversion takes
# 8.2 GB, 42 times the weights; the loaded model 0.8 GB over the 0.8 GB a tiny model needs.
# So 48 copies of the weights on top of 1 GB, rounded up.
WEIGHT_COPIES = 48
FRAMEWORK_BYTES = 2**30
BUDGET_FLAG = "--memory-budget"
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_size(text: str) -> int:
    """'512M', '4G', '1.5G' or a number of bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", text, re.IGNORECASE)
    if not match:
        raise BadInputError(f"{BUDGET_FLAG} '{text}': expected a size such as 512M or 4G.")
    return int(float(match[1]) * _UNITS[match[2].upper()])


def weight_bytes(path: Path) -> int:
    """The bytes the weights take: a .keras archive's members uncompressed, an .h5 file's
    size, a SavedModel directory's files."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return sum(item.file_size for item in archive.infolist())
    return path.stat().st_size


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def available_bytes(root: Path = Path("/")) -> int | None:
    """Memory free for this process: MemAvailable, or less under a cgroup (v2 or v1) limit;
    None where neither can be read (not Linux)."""
    found = []
    meminfo = root / "proc" / "meminfo"
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    cgroup = root / "sys" / "fs" / "cgroup"
    for limit, usage in (
        ("memory.max", "memory.current"),
        ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes"),
    ):
        cap, used = _read_int(cgroup / limit), _read_int(cgroup / usage)
        if cap is not None and used is not None and cap < 2**60:  # v1 "unlimited" is huge
            found.append(max(cap - used, 0))
    return min(found) if found else None


def check(path: Path, budget: int | None = None) -> None:
    """Refuse ``path`` if converting it needs more memory than ``budget`` (default: what
    is available now)."""
    weights = weight_bytes(path)
    need = FRAMEWORK_BYTES + WEIGHT_COPIES * weights
    have = budget if budget is not None else available_bytes()
    if have is None or need <= have:
        return
    where = f"the {BUDGET_FLAG} given" if budget is not None else "available on this machine"
    raise BadInputError(
        f"'{path}' holds {_size(weights)} of weights; converting it needs about {_size(need)} "
        f"of memory ({WEIGHT_COPIES} copies of the weights and {_size(FRAMEWORK_BYTES)} for "
        f"TensorFlow or torch), more than the {_size(have)} {where}. Convert it on a machine "
        f"with more memory, or free some; {BUDGET_FLAG} SIZE sets what may be used."
    )


def _size(count: int) -> str:
    for unit in ("TB", "GB", "MB", "KB"):
        scale = _UNITS[unit[0]]
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"
