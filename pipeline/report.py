"""What a stage returns and writes as JSON: its artifacts, its numbers, its verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.compare import Comparison
from pipeline.hashing import digest


@dataclass(frozen=True)
class StageReport:
    stage: str
    artifacts: dict[str, str]  # role -> path
    seconds: float
    comparisons: tuple[Comparison, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()  # the files the stage read (their digests are recorded)
    # file name -> sha256 already computed (check hashed every file to compare them): not
    # read again for this report
    known_digests: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.comparisons)

    @property
    def worst(self) -> Comparison | None:
        return max(self.comparisons, key=lambda c: c.max_rel, default=None)

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "passed": self.passed,
            "seconds": round(self.seconds, 3),
            "artifacts": self.artifacts,
            "comparisons": [c.to_json() for c in self.comparisons],
            # by file name: what the check stage compares the files next to it with
            "sha256": digests(self.artifacts.values(), self.known_digests),
            "input_sha256": digests(self.inputs, self.known_digests),
            **self.details,
        }


def digests(paths, known: dict[str, str] | None = None) -> dict[str, str]:
    """File name -> sha256 of each path that is a file (taken from ``known`` where there)."""
    known = known or {}
    return {Path(p).name: known.get(Path(p).name) or digest(p) for p in paths if Path(p).is_file()}
