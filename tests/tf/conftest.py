"""TensorFlow-side tests: this pytest process may import TensorFlow, never torch."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture(autouse=True)
def _no_torch_here():
    yield
    assert "torch" not in sys.modules, "a TensorFlow-side test imported torch"


@pytest.fixture(scope="session")
def lenet4_export(tmp_path_factory):
    from pipeline import export

    out = tmp_path_factory.mktemp("lenet4")
    report = export.run("lenet4", out)
    return out, report
