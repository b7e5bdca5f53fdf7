"""models/files.py: the user's module for --custom-objects, and its failures."""

from __future__ import annotations

import pytest
from models import files
from pipeline.errors import BadInputError


def test_no_module_means_no_custom_objects():
    assert files.custom_objects(None) == {}


def test_the_module_s_own_classes_and_functions_are_offered_to_keras(tmp_path):
    module = tmp_path / "layers.py"
    module.write_text("from pathlib import Path\nclass Mine:\n    pass\ndef helper():\n    pass\n")
    assert sorted(files.custom_objects(module)) == ["Mine", "helper"]  # not the imported Path


def test_a_path_that_is_not_a_python_file_is_refused(tmp_path):
    with pytest.raises(BadInputError, match="not a Python file"):
        files.custom_objects(tmp_path / "missing.py")


def test_a_module_that_fails_to_import_is_refused_with_its_error(tmp_path):
    module = tmp_path / "broken.py"
    module.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(BadInputError, match="failed to import: RuntimeError: boom"):
        files.custom_objects(module)
