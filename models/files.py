"""A user's model file: ``.keras``/``.h5`` (Keras 3, or Keras 2 via ``models.keras2``) or a
Keras 2 SavedModel directory; read, never written.

A model may need the user's code: custom layer classes (``--custom-objects module.py``
imports that module first, which runs it, and says so in the log) or a ``Lambda`` whose
Python code is stored in the file (Keras runs it only with ``safe_mode=False``:
``--unsafe-deserialization``, off by default because loading a file from someone else would
then run their code).
"""

from __future__ import annotations

import importlib.util
import logging
import zipfile
from pathlib import Path

from pipeline.errors import BadInputError

from models import memory
from models.loaded import LoadedModel, LoadOptions

log = logging.getLogger(__name__)

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
UNSAFE_FLAG = "--unsafe-deserialization"
CUSTOM_FLAG = "--custom-objects"


def custom_objects(path: Path | None) -> dict[str, object]:
    """Import the user's module at ``path`` (its ``register_keras_serializable`` classes
    register themselves); its public classes and functions, by name, for Keras to find."""
    if path is None:
        return {}
    path = Path(path)
    if not path.is_file() or path.suffix != ".py":
        raise BadInputError(f"{CUSTOM_FLAG} '{path}': not a Python file (.py).")
    log.warning("importing %s for the model's custom objects: this runs its code", path)
    spec = importlib.util.spec_from_file_location(f"custom_objects_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's code: any error, named with its type
        raise BadInputError(
            f"{CUSTOM_FLAG} '{path}' failed to import: {type(exc).__name__}: {exc}"
        ) from exc
    return {
        name: value
        for name, value in vars(module).items()
        if not name.startswith("_") and callable(value) and value.__module__ == module.__name__
    }


def load(path: Path, options: LoadOptions) -> LoadedModel:
    from models import keras2

    objects = custom_objects(options.custom_objects)
    safe = not options.unsafe_deserialization
    if path.is_dir():
        keras2.check_savedmodel(path)
        memory.check(path, options.memory_budget)
        return _keras2(path, _hinted(keras2.load, path, objects, safe))
    if path.suffix.lower() not in KERAS_SUFFIXES:
        raise BadInputError(
            f"'{path}' is not a Keras model file: expected one of {', '.join(KERAS_SUFFIXES)}, "
            "or a SavedModel directory written by Keras 2."
        )
    _check_format(path)
    memory.check(path, options.memory_budget)
    if path.suffix.lower() != ".keras" and keras2.is_keras2_h5(path):
        return _keras2(path, _hinted(keras2.load, path, objects, safe))
    model = _keras3(path, objects, options)
    _require_inputs(path, model)
    return LoadedModel(model, f"file:{path}", False)


def _require_inputs(path: Path, model) -> None:
    """A model saved before it was built (a Sequential with neither an Input nor an
    input_shape, never called) has no inputs and no weights: there is nothing to convert."""
    try:
        inputs = model.inputs if model.built else None
    except (AttributeError, ValueError):  # Keras: "has no defined inputs yet"
        inputs = None
    if not inputs:
        raise BadInputError(
            f"'{path}' holds a model with no inputs ({type(model).__name__} "
            f"'{model.name}' was saved before it was built, so it has no weights either). "
            "Give it an input (keras.Input(shape) first, or build(input_shape)) and save it "
            "again."
        )


HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _check_format(path: Path) -> None:
    """A ``.keras`` file is a zip archive and an ``.h5`` an HDF5 file: say so plainly when it
    is not (empty, cut short, another format), before Keras says "File not found"."""
    size = path.stat().st_size
    if size == 0:
        raise BadInputError(f"'{path}' is empty (0 bytes): not a Keras model file.")
    if path.suffix.lower() == ".keras" and not zipfile.is_zipfile(path):
        raise BadInputError(
            f"'{path}' is not a .keras file: a .keras file is a zip archive, and this one "
            f"({size} bytes) is not a complete one (cut short in a copy, or another format)."
        )
    if path.suffix.lower() != ".keras":
        with path.open("rb") as file:
            if file.read(len(HDF5_SIGNATURE)) != HDF5_SIGNATURE:
                raise BadInputError(
                    f"'{path}' is not an HDF5 file ({size} bytes), so not a Keras .h5 model."
                )


def _keras3(path: Path, objects: dict, options: LoadOptions):
    import keras

    safe = not options.unsafe_deserialization
    try:
        return keras.saving.load_model(path, custom_objects=objects, compile=False, safe_mode=safe)
    except Exception as exc:  # keras raises many types for a bad file; each is explained
        raise BadInputError(_load_error(path, exc, keras.__version__)) from exc


def _hinted(load, path: Path, objects: dict, safe: bool):
    """``load(path, objects, safe)`` (Keras 2), its refusal of a Lambda's code naming the
    flag that allows it."""
    try:
        return load(path, objects, safe)
    except BadInputError as exc:
        if "safe_mode" not in str(exc):
            raise
        raise BadInputError(f"{str(exc).rstrip('.')}. {LAMBDA_HINT}") from exc


LAMBDA_HINT = (
    "The file holds a Lambda layer's Python code, which Keras runs only when told to: pass "
    f"{UNSAFE_FLAG} if you trust the file (it is off by default because loading a file from "
    "someone else would run their code)."
)


def _load_error(path: Path, exc: Exception, version: str) -> str:
    text = (str(exc).splitlines()[0] if str(exc) else "").rstrip(".")
    what = (
        f"'{path}' could not be loaded as a Keras model by Keras {version}: "
        f"{type(exc).__name__}: {text}"
    )
    if "safe_mode" in str(exc) or "unsafe" in str(exc):
        return f"{what}. {LAMBDA_HINT}"
    if "Could not locate" in str(exc) or "Unknown layer" in str(exc):
        return (
            f"{what}. The model uses a class of its author's code: pass {CUSTOM_FLAG} "
            "module.py, the Python file that defines it (registered with "
            "keras.saving.register_keras_serializable or named as in the model)."
        )
    return f"{what}. Check that the file is a complete .keras/.h5 model (not weights only)."


def _keras2(path: Path, loaded) -> LoadedModel:
    source = f"file:{path} (Keras {loaded.version} {loaded.kind}, read by tf_keras)"
    return LoadedModel(loaded.model, source, False, reference_model=loaded.written_by)
