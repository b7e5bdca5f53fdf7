"""Keras 2 files: a ``.h5`` or a SavedModel directory written by ``tf_keras`` (Keras 2.x, the
``tf.keras`` of TensorFlow <= 2.15 and of ``TF_USE_LEGACY_KERAS=1``).

The Keras that wrote a file is the one that reads it right, so ``tf_keras`` loads it and
gives the reference outputs. tf2onnx converts a Keras 3 model (stage 1 is written for
Keras 3), so the model is then rebuilt in Keras 3 by Keras 3's own legacy-``.h5`` reader:
a SavedModel is first re-saved as ``.h5`` by ``tf_keras`` into a temporary directory
(the input is never written). ``rebuild_gap`` says how far the rebuild's outputs are from
``tf_keras``'; stage 1 refuses a rebuild that does not compute the same function.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import BadInputError

if TYPE_CHECKING:
    import keras

SAVEDMODEL_PB = "saved_model.pb"
KERAS2_METADATA = "keras_metadata.pb"  # a SavedModel written by Keras 2 holds it


@dataclass(frozen=True)
class Keras2Model:
    model: keras.Model  # the Keras 3 rebuild, converted by stage 1
    written_by: object  # the tf_keras model, the reference outputs' source
    version: str  # the Keras version that wrote the file
    kind: str  # ".h5" or "SavedModel"


def h5_keras_version(path: Path) -> str | None:
    """The ``keras_version`` a Keras ``.h5`` file records (None: not an HDF5 model file)."""
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            version = h5.attrs.get("keras_version")
    except OSError:
        return None
    return version.decode() if isinstance(version, bytes) else version


def is_keras2_h5(path: Path) -> bool:
    version = h5_keras_version(path)
    return version is not None and version.split(".")[0] == "2"


def check_savedmodel(path: Path) -> None:
    """A directory must be a SavedModel that Keras 2 wrote; anything else is refused."""
    if not (path / SAVEDMODEL_PB).exists():
        raise BadInputError(
            f"'{path}' is a directory without {SAVEDMODEL_PB}: not a SavedModel. Pass a "
            ".keras or .h5 file, or a SavedModel directory written by Keras 2 (tf_keras)."
        )
    if not (path / KERAS2_METADATA).exists():
        raise BadInputError(
            f"'{path}' is a TensorFlow SavedModel without Keras metadata ({KERAS2_METADATA}): "
            "it holds TF functions, not Keras layers, so there is nothing to name the PyTorch "
            "layers after. Save the Keras model itself (model.save('model.keras') in Keras 3, "
            "or model.save('dir') / 'model.h5' in Keras 2) and pass that."
        )


def load(path: Path, custom_objects: dict | None = None, safe_mode: bool = True) -> Keras2Model:
    """Load a Keras 2 ``.h5`` or SavedModel with ``tf_keras`` and rebuild it in Keras 3.
    ``safe_mode``: a Lambda's stored Python code is refused by both Kerases (tf_keras' own
    ``.h5`` and SavedModel loaders would run it unasked: its safe-mode scope is set here)."""
    import keras
    import tf_keras
    from tf_keras.src.saving.serialization_lib import SafeModeScope

    kind = "SavedModel" if path.is_dir() else ".h5"
    try:
        with SafeModeScope(safe_mode):
            written_by = tf_keras.models.load_model(
                path, custom_objects=custom_objects, compile=False
            )
    except Exception as exc:  # tf_keras raises many types for a bad file
        raise BadInputError(
            f"'{path}' could not be loaded by tf_keras {tf_keras.__version__} (Keras 2): "
            f"{type(exc).__name__}: {_first_line(exc)}"
        ) from exc
    version = h5_keras_version(path) if kind == ".h5" else tf_keras.__version__
    with tempfile.TemporaryDirectory(prefix="keras2-") as tmp:
        h5 = path
        if kind == "SavedModel":
            h5 = Path(tmp) / "model.h5"
            written_by.save(h5)
        try:
            model = keras.saving.load_model(
                h5, custom_objects=custom_objects, compile=False, safe_mode=safe_mode
            )
        except Exception as exc:
            raise BadInputError(
                f"'{path}' (Keras {version} {kind}) loads in tf_keras, but Keras "
                f"{keras.__version__} cannot rebuild it from its .h5 form: "
                f"{type(exc).__name__}: {_first_line(exc)}. Re-create the model in Keras 3 "
                "code, load the weights (model.load_weights) and save it as .keras."
            ) from exc
    return Keras2Model(model, written_by, version, kind)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else ""
