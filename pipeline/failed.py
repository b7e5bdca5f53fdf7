"""A stage whose own check fails keeps what it made in ``OUT/failed/``, never in ``OUT``
itself (nothing there can be taken for a good conversion), next to the files of the stages
before it (hard links, or copies), so that ``python -m pipeline diagnose OUT/failed`` can
compare every Keras layer in each; the stage runs it at once and its error names the first
Keras layer that differs. Any stage's next run removes ``OUT/failed``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from pipeline import artifacts
from pipeline.errors import MismatchError, OutputError

# what a later stage's diagnosis reads of the stages before it, by the failing stage
EARLIER = {
    "export": (),
    "passes": (
        artifacts.KERAS_MODEL,
        artifacts.EXPORT_REPORT,
        artifacts.REFERENCE,
        artifacts.STAGE1,
    ),
}
EARLIER["torch"] = (*EARLIER["passes"], artifacts.STAGE2)


def clear(out_dir: Path) -> None:
    """Remove a previous run's ``OUT/failed``."""
    shutil.rmtree(Path(out_dir) / artifacts.FAILED, ignore_errors=True)


def keep(
    stage: str,
    out_dir: Path,
    write: Callable[[Path], None],
    error: MismatchError,
    inputs: Path | None = None,
) -> MismatchError:
    """``write(failed_dir)`` puts the failing ``stage``'s files in ``OUT/failed``, the earlier
    stages' files (from ``inputs``, default ``OUT``) join them; the error, told which Keras
    layer first differs and where."""
    out_dir = Path(out_dir)
    inputs = Path(inputs or out_dir)
    failed = out_dir / artifacts.FAILED
    clear(out_dir)
    try:
        failed.mkdir(parents=True)
        for name in EARLIER[stage]:
            if (inputs / name).is_file():
                _link(inputs / name, failed / name)
        write(failed)
    except (OSError, OutputError) as exc:  # a full disk: the failure must still be reported
        clear(out_dir)
        return MismatchError(f"{error} (its files could not be kept: {exc})")
    from pipeline import diagnose

    note = diagnose.first_layer_note(failed)
    return MismatchError(f"{error}{note}; this stage's files are in {failed}, for Netron")


def _link(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(src, dst)
