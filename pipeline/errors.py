"""Errors that reach the user: each says what went wrong, where, and what to do."""

from __future__ import annotations

import re

# the one line a command ends with on an error: "[stage] error: ..." or, for a bug of ours,
# "[stage] internal error: ..." (pipeline.cli, pipeline.crash); read by fuzz and zoo
ERROR_LINE = re.compile(r"^\[(\w+)\] (?:internal )?error: (.*)$", re.MULTILINE)


class PipelineError(Exception):
    """A conversion failure the CLI reports as one clear message and a non-zero exit."""

    exit_code = 1


class BadInputError(PipelineError):
    """A missing or unreadable input file, or an unknown model name."""

    exit_code = 2


class UnsupportedError(PipelineError):
    """A Keras layer or ONNX op the pipeline cannot convert faithfully."""

    exit_code = 3


class MismatchError(PipelineError):
    """An artifact whose outputs differ from the Keras reference beyond tolerance."""

    exit_code = 4


class OutputError(PipelineError):
    """An artifact that cannot be written: an OUT that is no directory, unwritable, full."""

    exit_code = 5


class InternalError(PipelineError):
    """A bug of ours, not the user's model: an exception no stage expected, or a child
    process of a stage that crashed (``pipeline.crash``)."""

    exit_code = 6
