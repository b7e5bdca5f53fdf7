"""The options several commands share: how a user's model file is loaded, and checking
after every pass (``pipeline.cli``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def loading(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--custom-objects",
        type=Path,
        metavar="MODULE.py",
        help="import this Python file first (runs it): it defines the model's custom layers",
    )
    parser.add_argument(
        "--unsafe-deserialization",
        action="store_true",
        help="let Keras run the Python code a Lambda layer stored in the file (safe_mode=False); "
        "only for files you trust",
    )
    parser.add_argument(
        "--memory-budget",
        metavar="SIZE",
        help="memory the conversion may use, such as 8G (default: what is available now); "
        "a model file that needs more is refused before it is read",
    )


def every_pass(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--check-every-pass",
        action="store_true",
        help="check the graph against Keras after every pass (slower; by default once after "
        "the last, and pass by pass only to name the pass that broke a failing check)",
    )


def export_flags(args: argparse.Namespace) -> list[str]:
    flags = ["--custom-objects", str(args.custom_objects)] if args.custom_objects else []
    flags += ["--unsafe-deserialization"] if args.unsafe_deserialization else []
    return flags + (["--memory-budget", args.memory_budget] if args.memory_budget else [])
