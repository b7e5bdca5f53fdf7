"""``python -m pipeline export|passes|torch|check|convert``: each stage a command.

Every stage runs in its own process (TensorFlow and torchvision segfault in one); this
module imports a stage only after the command names it. ``convert`` runs the four stage
commands as child processes, in order (``pipeline.convert``).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import time
from pathlib import Path

from pipeline import artifacts, convert, options, progress
from pipeline.errors import OutputError, PipelineError

# command -> module that implements it (each exposes run(...) -> StageReport)
STAGES = {
    "export": "pipeline.export",
    "passes": "pipeline.passes",
    "torch": "pipeline.torch_stage",
    "check": "pipeline.check",
}


def default_out(model: str) -> Path:
    """build/<name>: a registry name as is, a file by its stem."""
    return Path("build") / (Path(model).stem if Path(model).suffix else Path(model).name)


def _parser() -> argparse.ArgumentParser:
    script = Path(sys.argv[0]).name if sys.argv else ""
    prog = script if script == "keras2torch" else "python -m pipeline"  # the console script
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    said = parser.add_mutually_exclusive_group()
    said.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    said.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("export", help="Keras -> stage1.onnx + reference.npz")
    p.add_argument("model", help="registry name, .keras/.h5 path or keras.applications name")
    p.add_argument("out_dir", type=Path, nargs="?")
    options.loading(p)
    p = sub.add_parser("passes", help="stage1.onnx -> stage2.onnx (graph passes)")
    p.add_argument("src", type=Path)
    p.add_argument("dst", type=Path)
    p.add_argument("--reference", type=Path, help="default: reference.npz next to SRC")
    options.every_pass(p)
    p = sub.add_parser("torch", help="stage2.onnx -> model.py + weights.pt")
    p.add_argument("src", type=Path)
    p.add_argument("out_dir", type=Path)
    p.add_argument("--reference", type=Path, help="default: reference.npz next to SRC")
    p = sub.add_parser("check", help="every artifact vs Keras -> report.json")
    p.add_argument("out_dir", type=Path)
    p.add_argument(
        "--recheck",
        action="store_true",
        help="run every comparison again (default: take a stage's own, recorded with the "
        "sha256 of its files, where those files are unchanged)",
    )
    p = sub.add_parser("bench", help="inference speed of a converted model, all frameworks")
    p.add_argument("out_dir", type=Path)
    p.add_argument("--model", help="MODEL it was converted from (default: OUT_DIR's name)")
    p = sub.add_parser("diagnose", help="the first Keras layer whose output differs")
    p.add_argument("out_dir", type=Path)
    p = sub.add_parser("fuzz", help="random Keras models through every stage -> fuzz.json")
    p.add_argument("--count", type=int, default=20)
    p.add_argument("--seed", type=int, default=0, help="the first model's seed")
    p.add_argument("--jobs", type=int, default=2, help="conversions at once")
    p = sub.add_parser("zoo", help="convert many models and write docs/zoo.md")
    p.add_argument("models", nargs="*", help="default: pipeline.zoo.ZOO")
    p.add_argument("--jobs", type=int, default=1, help="conversions at once")
    p = sub.add_parser("convert", help="all four stages, each in its own process")
    p.add_argument("model")
    p.add_argument("out_dir", type=Path, nargs="?")
    options.loading(p)
    options.every_pass(p)
    for stage in STAGES:  # convert starts a stage's process ahead of its turn (pipeline.convert)
        sub.choices[stage].add_argument("--when-told", action="store_true", help=argparse.SUPPRESS)
    return parser


def stage_argv(command: str, args: argparse.Namespace) -> list:
    """The positional arguments of ``run`` for a stage command."""
    if command == "export":
        from models import LoadOptions, memory

        budget = memory.parse_size(args.memory_budget) if args.memory_budget else None
        options = LoadOptions(args.custom_objects, args.unsafe_deserialization, budget)
        return [args.model, args.out_dir or default_out(args.model), options]
    if command in ("passes", "torch"):
        reference = args.reference or args.src.parent / artifacts.REFERENCE
        if command == "passes":
            return [args.src, args.dst, reference, args.check_every_pass]
        return [args.src, args.out_dir, reference]
    return [args.out_dir, args.recheck]


def run_stage(command: str, args: argparse.Namespace) -> int:
    module = importlib.import_module(STAGES[command])
    if args.when_told and not convert.told_to_run():
        return 0  # convert stopped before this stage's turn
    progress.restart()  # the stage's clock starts after its imports
    from pipeline import crash

    crash.forget(out_dir_of(args), command)  # an earlier crash's traceback is not this run's
    if not args.quiet:
        print(f"[{command}] started", flush=True)
    start = time.perf_counter()
    report = module.run(*stage_argv(command, args))
    elapsed = time.perf_counter() - start
    if not args.quiet:
        files = ", ".join(str(p) for p in report.artifacts.values())
        print(f"[{command}] done in {elapsed:.1f} s: {files}", flush=True)
    return 0 if report.passed else 4


def end_at_once(code: int) -> None:
    """End this process now, without the interpreter's teardown: a stage's files are written
    and closed, and ``convert`` releases the next stage only when this one has exited, so
    freeing TensorFlow's or torch's objects one by one (0.7-1 s on ResNet50) would be paid
    in series. Only for a stage ``convert`` started (``--when-told``)."""
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    progress.configure(args.command, args.verbose, args.quiet)
    try:
        if args.command == "convert":
            out_dir = args.out_dir or default_out(args.model)
            every = ["--check-every-pass"] if args.check_every_pass else []
            said = progress.flags(args.verbose, args.quiet)
            return convert.convert(args.model, out_dir, options.export_flags(args), every, said)
        if args.command == "diagnose":
            from pipeline import diagnose

            return diagnose.main(args.out_dir)
        if args.command == "fuzz":
            from pipeline import fuzz

            return fuzz.main(args.count, args.seed, args.jobs)
        if args.command == "zoo":
            from pipeline import zoo

            return zoo.main(args.models, args.jobs)
        if args.command == "bench":
            from pipeline import bench

            print(bench.table(bench.run(args.out_dir, args.model)))
            print(
                f"[bench] wrote {args.out_dir / bench.BENCH_JSON}, {args.out_dir / bench.BENCH_PNG}"
            )
            return 0
        return run_stage(args.command, args)
    except PipelineError as exc:
        print(f"[{args.command}] error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # a file system error no stage turned into its own message
        print(f"[{args.command}] error: {exc}", file=sys.stderr)
        return OutputError.exit_code
    except Exception as exc:  # a bug of ours: one line here, the traceback in a file
        from pipeline import crash

        return crash.report(args.command, exc, out_dir_of(args))


def out_dir_of(args: argparse.Namespace) -> Path:
    """Where a command writes (its traceback too, should it crash)."""
    if args.command == "passes":
        return args.dst.parent
    if args.command in ("export", "convert"):
        return args.out_dir or default_out(args.model)
    return getattr(args, "out_dir", None) or Path("build") / args.command
