"""What ``models.resolve`` gives: the loaded model and its facts, and how a user's file is
read. No framework is imported here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras
    import numpy as np


@dataclass(frozen=True)
class LabeledData:
    """A labelled test split the check reports accuracy on (Keras layout)."""

    name: str
    x: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class LoadedModel:
    model: keras.Model
    source: str  # what MODEL resolved to, for the report
    built_here: bool  # True: the export stage saves it next to its artifacts
    labeled: LabeledData | None = None
    # The model whose outputs are the reference, when it is not ``model`` itself: the
    # tf_keras model a Keras 2 file was read with (``model`` is its Keras 3 rebuild).
    reference_model: object | None = None

    @property
    def reference(self):
        return self.model if self.reference_model is None else self.reference_model

    @property
    def to_save(self) -> keras.Model | None:
        """The model stage 1 saves as ``keras_model.keras``: one built here, else None."""
        return self.model if self.built_here else None


@dataclass(frozen=True)
class LoadOptions:
    """How a user's file is read (``--custom-objects``, ``--unsafe-deserialization``)."""

    custom_objects: Path | None = None  # a Python file defining the model's own layers
    unsafe_deserialization: bool = False  # Keras safe_mode=False: run a Lambda's Python code
    memory_budget: int | None = None  # bytes a conversion may use (default: what is free)
