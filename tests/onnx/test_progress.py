"""What a command says while it works (pipeline.progress): steps with the stage's clock,
nothing with -q, and TensorFlow's native start-up lines held back by convert only."""

from __future__ import annotations

import io
import logging

import pytest

from pipeline import progress

NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796637578.046990   21240 port.cc:153] oneDNN custom operations are on.",
    "I0000 00:00:1796637578.051194   21240 cudart_stub.cc:31] Could not find cuda drivers",
    "E0000 00:00:1796637581.025608   21240 cuda_platform.cc:52] failed call to cuInit: INTERNAL",
    "E0000 00:00:1796637581.186690   21240 node_def_util.cc:682] NodeDef mentions attribute "
    "use_unbounded_threadpool which is not in the op definition",
]
KEPT = [
    "E0000 00:00:1796637581.025608   21240 conv_ops.cc:12] something else went wrong",
    "F0000 00:00:1796637581.025608   21240 any.cc:1] Check failed: a fatal error",
    "Traceback (most recent call last):",
    "[export] error: 'x.keras' is not a Keras model file",
    "  pipeline.passes: fold_shapes          Flatten +1 (0->1)",
]


@pytest.fixture(autouse=True)
def _restore_logging():
    yield
    progress.log.handlers.clear()
    progress.log.propagate = True
    logging.getLogger().handlers.clear()


def test_convert_holds_back_only_tensorflows_start_up_lines():
    out = io.StringIO()
    progress.pass_on(io.StringIO("".join(f"{line}\n" for line in NOISE + KEPT)), out, False)
    assert out.getvalue().splitlines() == KEPT


def test_verbose_passes_every_line_on():
    out = io.StringIO()
    progress.pass_on(io.StringIO("".join(f"{line}\n" for line in NOISE)), out, True)
    assert out.getvalue().splitlines() == NOISE


def test_a_step_is_said_with_the_stage_and_its_clock(capsys):
    progress.configure("export")
    progress.step("tf2onnx: converting %s", "x")
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("[export ") and line.endswith(" s] tf2onnx: converting x")


def test_quiet_says_no_step_and_no_info(capsys):
    progress.configure("export", quiet=True)
    progress.step("tf2onnx")
    logging.getLogger("pipeline.export").info("exporting")
    logging.getLogger("pipeline.export").warning("a warning is still said")
    assert capsys.readouterr().err == "  pipeline.export: a warning is still said\n"
    assert progress.quiet()


def test_the_child_flags_carry_the_verbosity():
    assert progress.flags(False, False) == []
    assert progress.flags(True, False) == ["-v"] and progress.flags(False, True) == ["-q"]
