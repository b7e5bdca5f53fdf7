"""The float64 anchor (rule 2 of the check, ``compare.ANCHOR_FACTOR``), computed only when a
comparison first needs it.

Rule 2 can only pass what the float32 bar fails, and a float64 copy of a big net costs
seconds (VGG16's five reference images: 12.8 s of compute, which slowed tf2onnx by 3.5 s
on the other core), so export does not compute it for every model. A ``Reference`` carries
a ``Later`` instead, called the first time one of its comparisons fails the bar without an
anchor to judge it by:

- in export, the Keras model is at hand: the copy is made in that process, and
  ``reference.npz`` then holds its outputs (``exact/...``, ``compiled/...``);
- in a later stage (passes, torch, check), which may not import TensorFlow, a child
  process (``python -m pipeline.export.anchor OUT_DIR``) makes it and writes ``anchor.npz``
  next to ``reference.npz``, bound to that file by its sha256: every later ``ref.load`` of
  the same reference takes it. The stages record ``anchor.npz`` with the files they read,
  so the check vouches for it as for the reference.

Only a directory whose ``export.json`` says the anchor was deferred gets the child: a
reference made by hand, or by an export that computed the anchor, has none to wait for.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pipeline import artifacts, malloc, progress
from pipeline.hashing import digest

log = logging.getLogger(__name__)

# export.json's float64_anchor when no comparison of export needed it
DEFERRED = "deferred: computed only if a comparison fails the bar (pipeline.anchor_later)"
FOR = "for_sha256"  # anchor.npz: the sha256 of the reference.npz it was computed for
NOTE = "note"  # anchor.npz: what it cost, or why it holds no outputs
# the outputs of the anchor, stored as <kind>/<case>/<output> in reference.npz or anchor.npz:
# the float64 copy's, and Keras' compiled run's where rule 2 can decide (export.anchor)
KINDS = ("exact/", "compiled/")


def anchor_arrays(reference) -> dict[str, np.ndarray]:
    """``reference``'s anchor outputs, keyed as stored."""
    return {
        f"{kind}/{case_name}/{name}": array
        for case_name, case in reference.cases.items()
        for kind, outputs in (("exact", case.exact), ("compiled", case.compiled))
        for name, array in (outputs or {}).items()
    }


def with_anchor(reference, arrays: dict[str, np.ndarray]):
    """``reference`` with each case's ``exact`` and ``compiled`` outputs from ``arrays``
    (keyed as ``anchor_arrays`` writes them), None where they hold none."""

    def stored(kind: str, case: str) -> dict[str, np.ndarray] | None:
        keys = {n: f"{kind}/{case}/{n}" for n in reference.output_names}
        return {n: arrays[k] for n, k in keys.items() if k in arrays} or None

    cases = {
        name: dataclasses.replace(
            case, exact=stored("exact", name), compiled=stored("compiled", name)
        )
        for name, case in reference.cases.items()
    }
    return dataclasses.replace(reference, cases=cases)


class Later:
    """A reference's anchor, fetched at most once (``fetch(reference)`` -> (the reference
    with its float64 outputs, or None where none could be computed; a note))."""

    def __init__(self, fetch: Callable):
        self._fetch, self._lock = fetch, threading.Lock()
        self.fetched, self.found, self.note, self.seconds = False, None, DEFERRED, 0.0

    def __call__(self, reference):
        with self._lock:
            if not self.fetched:
                start = time.perf_counter()
                self.found, self.note = self._fetch(dataclasses.replace(reference, later=None))
                self.fetched, self.seconds = True, time.perf_counter() - start
        return self.found


def path_for(reference_path: Path) -> Path:
    return Path(reference_path).with_name(artifacts.ANCHOR)


def save(reference_path: Path, anchored, note: str) -> None:
    """``anchored``'s float64 (and compiled) outputs as ``anchor.npz``, bound to the
    reference file they were computed for."""
    meta = {FOR: digest(reference_path), NOTE: note}
    with artifacts.atomic_path(path_for(reference_path)) as tmp:
        np.savez(tmp, __meta__=np.array(json.dumps(meta)), **anchor_arrays(anchored))


def attached(reference_path: Path, reference):
    """``reference`` (just loaded from ``reference_path``, with no anchor of its own) with
    the ``anchor.npz`` made for that very file, or with the ``Later`` that makes it."""
    stored = _stored(reference_path, reference)
    if stored is not None:
        return stored
    if not _deferred(reference_path):
        return reference
    return dataclasses.replace(reference, later=Later(lambda r: _child(reference_path, r)))


def _stored(reference_path: Path, reference):
    path = path_for(reference_path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["__meta__"]))
            if meta.get(FOR) != digest(reference_path):
                return None  # made for another reference (another run): not this one's
            arrays = {key: data[key] for key in data.files if key != "__meta__"}
    except (OSError, ValueError, KeyError):  # unreadable: as if absent (made again if needed)
        return None
    return with_anchor(reference, arrays)


def _deferred(reference_path: Path) -> bool:
    try:
        report = json.loads(Path(reference_path).with_name(artifacts.EXPORT_REPORT).read_text())
    except (OSError, ValueError):
        return False
    return str(report.get("float64_anchor", "")).startswith(DEFERRED)


def _child(reference_path: Path, reference) -> tuple:
    """The anchor made by ``pipeline.export.anchor`` in a process of its own (TensorFlow),
    then read back; (None, why) if that process fails: rule 2 is a help, so the comparison
    then stands as the bar judged it."""
    progress.step("Keras (its own process): the float64 copy's outputs, for the check's rule 2")
    command = [sys.executable, "-m", "pipeline.export.anchor", str(Path(reference_path).parent)]
    proc = subprocess.run(
        command, capture_output=True, text=True, check=False, env=malloc.environment()
    )
    found = _stored(reference_path, reference) if proc.returncode == 0 else None
    if found is None or not any(case.exact for case in found.cases.values()):
        lines = proc.stderr.strip().splitlines() or ["no float64 outputs"]
        log.warning("no float64 anchor (rule 2 not offered): %s", lines[-1][:300])
        return None, lines[-1][:300]
    return found, "computed by pipeline.export.anchor"
