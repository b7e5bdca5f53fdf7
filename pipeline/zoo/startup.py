"""What each stage process pays before it converts anything: importing its frameworks.

Measured in fresh interpreters, as each stage starts in one: the wall time of
``python -c "import <modules>"`` less that of ``python -c "pass"``, the median of RUNS runs
(the first one also reads the files from disk; the median is the warm figure).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

# The frameworks each stage imports (pipeline.export ... pipeline.check).
STAGE_IMPORTS = {
    "export": ("tensorflow", "keras", "tf2onnx", "onnxruntime"),
    "passes": ("onnx", "onnx_ir", "onnxruntime"),
    "torch": ("torch", "onnx2torch", "onnxruntime"),
    # the check takes the stages' recorded comparisons; it needs torch (a child process)
    # only for what it runs again (files changed since, or --recheck)
    "check": ("onnx", "onnxruntime"),
}
RUNS = 3


def _wall(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - start


def measure(runs: int = RUNS) -> dict[str, dict]:
    """Per stage: its modules and their import seconds (median of ``runs``)."""
    bare = statistics.median(_wall("pass") for _ in range(runs))
    found = {}
    for stage, modules in STAGE_IMPORTS.items():
        code = "import " + ", ".join(modules)
        seconds = statistics.median(_wall(code) for _ in range(runs)) - bare
        found[stage] = {"modules": list(modules), "seconds": round(seconds, 2)}
    return found


def table(found: dict[str, dict]) -> str:
    lines = ["| stage | imports | seconds |", "|---|---|---|"]
    for stage, item in found.items():
        lines.append(f"| {stage} | {', '.join(item['modules'])} | {item['seconds']:.1f} |")
    return "\n".join(lines)
