"""Keras -> ONNX -> native PyTorch, verified against Keras at every stage.

The stages are separate processes that talk through files (TensorFlow and torchvision
segfault in one process):

- ``pipeline.export``      Keras -> ``stage1.onnx`` + ``reference.npz``   (TensorFlow only)
- ``pipeline.passes``      ``stage1.onnx`` -> ``stage2.onnx``             (onnx / onnx-ir only)
- ``pipeline.torch_stage`` ``stage2.onnx`` -> ``model.py`` + ``weights.pt`` (torch only)
- ``pipeline.check``       every artifact vs the Keras outputs -> ``report.json``

Importing this package imports none of the heavy frameworks.
"""

from __future__ import annotations

__version__ = "0.1.0"
