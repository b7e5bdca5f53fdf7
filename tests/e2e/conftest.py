"""What several end-to-end modules share: the small models of ``models/small.py`` (LeNet4
among them) converted once per session, in two batches at once (``pipeline.batch``: one
process per stage for a batch, the imports paid once). Tests read these directories and
copy them before planting a bug; none writes into them."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pipeline import batch
from pipeline.zoo import SMALL

# Each stage checks its own artifact against Keras; the check stage would compare the same
# again (tests/e2e/test_convert.py and the other single conversions run it).
STAGES = ("export", "passes", "torch")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def small_models(tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    """model -> (its directory, its batch result: exit, error, stage)."""
    root = tmp_path_factory.mktemp("small")
    chunks = [list(SMALL[i::2]) for i in range(2)]
    with ThreadPoolExecutor(2) as pool:
        results = {}
        for found in pool.map(lambda chunk: batch.convert(chunk, root, STAGES), chunks):
            results.update(found)
    return {name: (root / batch.dir_name(name), results[name]) for name in SMALL}


@pytest.fixture(scope="session")
def converted(tmp_path_factory) -> tuple[Path, str, str]:
    """LeNet4 converted by `python -m pipeline convert` once: (its directory, what it wrote
    on stdout, on stderr)."""
    out = tmp_path_factory.mktemp("lenet4")
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "convert", "lenet4", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    return out, proc.stdout, proc.stderr
