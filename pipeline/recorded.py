"""What the stages recorded, and when the check stage may take it as it is.

Every stage holds the artifacts it writes to the Keras reference before it renames them
into place, and its report (``export.json``, ``passes.json``, ``torch.json``) records those
comparisons with the sha256 of every file it wrote and read, ``reference.npz`` included.
The check stage takes a stage's comparisons as recorded only when all of those files are
byte-identical now and the record covers every case the artifact must run; otherwise (or
with ``check --recheck``) it runs them again. Either way each artifact in ``report.json``
was compared with the reference now on disk, on the bytes now on disk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pipeline import artifacts
from pipeline.compare import Comparison
from pipeline.hashing import digest, hash_soon
from pipeline.reference import Reference

# stage report -> the artifacts whose comparisons it records, in the check table's order
RECORDS = {
    artifacts.EXPORT_REPORT: (artifacts.STAGE1,),
    artifacts.PASSES_REPORT: (artifacts.STAGE2,),
    artifacts.TORCH_REPORT: (
        artifacts.MODEL_PY,
        "optimized",  # model.py's optimize_for_inference(), both ways (torch_stage.verify)
        "optimized_cl",
        artifacts.MODEL_PT2,
        artifacts.MODEL_ONNX,
    ),
}
DEPLOYED = (artifacts.MODEL_PT2, artifacts.MODEL_ONNX)  # run on torch.json's deploy_cases


class Digests:
    """sha256 of the files in one directory, each read once however often it is asked for."""

    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        self._seen: dict[str, str | None] = {}

    def __call__(self, name: str) -> str | None:
        if name not in self._seen:
            path = self.out_dir / name
            self._seen[name] = digest(path) if path.is_file() else None
        return self._seen[name]

    def ahead(self, records: dict[str, Record]) -> None:
        """Start hashing every file ``records`` name, two at a time (``pipeline.hashing``)."""
        names = sorted({name for record in records.values() for name, _, _ in record.files()})
        hash_soon(*(self.out_dir / name for name in names))

    def known(self) -> dict[str, str]:
        """Every digest computed so far, by file name."""
        return {name: found for name, found in self._seen.items() if found}


@dataclass(frozen=True)
class Record:
    """One stage's report as it stands next to the files."""

    name: str  # the report's file name
    data: dict

    def files(self) -> list[tuple[str, str, str]]:
        """(file name, recorded sha256, "wrote" or "read") for every file the stage recorded."""
        wrote = [(f, d, "wrote") for f, d in self.data.get("sha256", {}).items()]
        return wrote + [(f, d, "read") for f, d in self.data.get("input_sha256", {}).items()]

    def changed(self, digests: Digests) -> list[tuple[str, str]]:
        """(file name, verb) of each recorded file that is not byte-identical now (or gone)."""
        return [(f, verb) for f, d, verb in self.files() if digests(f) != d]


def load(out_dir: Path) -> dict[str, Record]:
    """The stage reports present in ``out_dir``, by file name."""
    found = {}
    for name in RECORDS:
        path = Path(out_dir) / name
        if path.is_file():
            found[name] = Record(name, json.loads(path.read_text()))
    return found


def stale(records: dict[str, Record], digests: Digests) -> list[str]:
    """A problem line for each file that differs from what a stage wrote or read (edited by
    hand, or left by another run): the check would vouch for a chain no stage made."""
    return [
        f"{file_name} changed after the {record.data['stage']} stage {verb} it (edited by "
        "hand, or from another run): re-run the stages from the one that writes it"
        for record in records.values()
        for file_name, verb in record.changed(digests)
        if digests(file_name) is not None
    ]


def usable(record: Record | None, digests: Digests, reference: Reference) -> list[Comparison]:
    """The record's comparisons, if the check may take them as they are; else []."""
    if record is None or record.changed(digests):
        return []
    if artifacts.REFERENCE not in {name for name, _, _ in record.files()}:
        return []  # not known to be made against this reference (a report of an older run)
    wanted = RECORDS[record.name]
    found = [Comparison.from_json(c) for c in record.data["comparisons"] if c["artifact"] in wanted]
    covered = {(c.artifact, c.case, c.output) for c in found}
    deploy_cases = record.data.get("deploy_cases", list(reference.cases))
    for artifact in wanted:
        cases = deploy_cases if artifact in DEPLOYED else list(reference.cases)
        if any(
            (artifact, case, out) not in covered for case in cases for out in reference.output_names
        ):
            return []
    return sorted(found, key=lambda c: wanted.index(c.artifact))
