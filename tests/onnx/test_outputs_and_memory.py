"""Integer outputs are compared exactly; a stage's outputs are all or none; a model file
too big for the memory is refused before it is read (``models.memory``)."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from models import memory
from pipeline import artifacts
from pipeline.compare import FLOAT32_TOL, compare
from pipeline.errors import BadInputError, OutputError


def test_an_integer_output_must_be_equal_element_for_element():
    ids = np.arange(200_000, dtype=np.int64)  # one id off scales to 5e-6, under the float bar
    off_by_one = ids.copy()
    off_by_one[3] += 1
    assert compare("model.py", "batch1", "ids", ids, ids.copy(), FLOAT32_TOL).rule == "exact"
    result = compare("model.py", "batch1", "ids", ids, off_by_one, FLOAT32_TOL)
    assert result.max_rel < FLOAT32_TOL and not result.passed
    as_float = compare("model.py", "batch1", "ids", ids, ids.astype(np.float32), FLOAT32_TOL)
    assert not as_float.passed  # the same numbers, but no longer integers


def test_a_failing_stage_removes_what_it_wrote_and_the_previous_run_s_outputs(tmp_path):
    model, report = tmp_path / "stage2.onnx", tmp_path / "passes.json"
    report.write_text("{} from an earlier run")
    with pytest.raises(OutputError), artifacts.stage_outputs([model, report]):
        artifacts.write_text(model, "written")
        raise OutputError("writing 'passes.json' failed: File too large")
    assert sorted(tmp_path.iterdir()) == []


def test_a_stage_that_succeeds_keeps_its_outputs(tmp_path):
    with artifacts.stage_outputs([tmp_path / "a.json"]):
        artifacts.write_text(tmp_path / "a.json", "{}")
    assert (tmp_path / "a.json").read_text() == "{}"


@pytest.mark.parametrize(
    ("text", "size"), [("512M", 512 * 2**20), ("1.5G", 3 * 2**29), ("4gb", 4 * 2**30), ("10", 10)]
)
def test_memory_budget_sizes(text, size):
    assert memory.parse_size(text) == size


def test_a_bad_memory_budget_is_a_clear_error():
    with pytest.raises(BadInputError, match="expected a size such as 512M"):
        memory.parse_size("lots")


def test_the_weights_of_a_keras_archive_count_uncompressed(tmp_path):
    path = tmp_path / "m.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.weights.h5", b"\0" * 10_000_000)  # compresses to ~10 KB
    assert memory.weight_bytes(path) == 10_000_000


def test_a_model_over_the_budget_is_refused_with_the_figures(tmp_path):
    path = tmp_path / "m.h5"
    path.write_bytes(b"\0" * 2**20)
    need = memory.FRAMEWORK_BYTES + memory.WEIGHT_COPIES * 2**20
    memory.check(path, budget=need)  # just fits
    with pytest.raises(BadInputError) as refused:
        memory.check(path, budget=need - 1)
    assert "holds 1.0 MB of weights" in str(refused.value)
    assert "--memory-budget given" in str(refused.value)


def test_available_memory_is_the_least_of_meminfo_and_the_cgroup_limit(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "meminfo").write_text("MemTotal: 100 kB\nMemAvailable: 8000 kB\n")
    assert memory.available_bytes(tmp_path) == 8000 * 1024
    cgroup = tmp_path / "sys" / "fs" / "cgroup"
    cgroup.mkdir(parents=True)
    (cgroup / "memory.max").write_text(f"{6000 * 1024}\n")
    (cgroup / "memory.current").write_text(f"{1000 * 1024}\n")
    assert memory.available_bytes(tmp_path) == 5000 * 1024
    (cgroup / "memory.max").write_text("max\n")  # cgroup v2 without a limit
    assert memory.available_bytes(tmp_path) == 8000 * 1024
