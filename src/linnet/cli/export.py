"""`linnet export RUN_DIR --format onnx [--out model.onnx]`: the run's model as a file that runs without linnet."""
from __future__ import annotations

from linnet.export import FORMATS


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="write a run's model as ONNX, preprocessing included (needs linnet[onnx])")
    p.add_argument("run_dir")
    p.add_argument("--format", choices=FORMATS, default=FORMATS[0], help="the file format")
    p.add_argument("--out", help="file to write (default: RUN_DIR/model.onnx)")
    p.set_defaults(run=run)


def run(args) -> int:
    if args.out is not None:  # before the work: a path that cannot be written is said at once
        from linnet.atomic import check_output_path
        check_output_path("out", args.out)
    from linnet.export import export_run, signature
    path = export_run(args.run_dir, args.out, args.format)   # first: it names the extra when onnx is missing
    import onnx
    print(f"wrote {path}: {signature(onnx.load(path))}")   # read back: the file on disk is what is described
    return 0
