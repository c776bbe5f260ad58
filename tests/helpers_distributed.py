"""One rank of a multi-process test: tests/test_distributed.py starts N of these with torchrun's
environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) on 127.0.0.1.

    python helpers_distributed.py JOBS_JSON

runs the jobs through linnet's own entry points in one process group: rank 0 leads each job
(linnet.experiment.train / resume, which write the run directory), the others follow it
(linnet.distributed.follow). A rank other than 0 gets every way linnet writes a file replaced by
an error, so that "the others write nothing" cannot pass by accident.

Jobs: ["train", {TrainConfig fields}], ["resume", run_dir, epochs], ["copy", src_dir, dst_dir].
"""
import json
import os
import shutil
import sys


def forbid_writes() -> None:
    from linnet import atomic, runs

    def refuse(*args, **kwargs):
        raise AssertionError(f"rank {os.environ['RANK']} tried to write a file")

    for module in (atomic, runs):
        for name in ("atomic_write_bytes", "atomic_write_text"):
            if hasattr(module, name):
                setattr(module, name, refuse)
    for name in ("create", "open"):
        setattr(runs.RunDir, name, classmethod(refuse))
    runs.RunDir.__enter__ = refuse


def main(jobs: list) -> None:
    from linnet import distributed, experiment
    from linnet.config import TrainConfig
    parallel = distributed.from_env()
    assert parallel is not None and parallel.world_size == int(os.environ["WORLD_SIZE"])
    if not parallel.is_writer:
        forbid_writes()
    for kind, *args in jobs:
        if kind == "copy":
            if parallel.is_writer:
                shutil.copytree(*args)
        elif not parallel.is_writer:
            distributed.follow(parallel)
        elif kind == "train":
            experiment.train(TrainConfig(**args[0]), quiet=True, parallel=parallel)
        else:
            experiment.resume(args[0], epochs=args[1], quiet=True, parallel=parallel)
    parallel.close()


if __name__ == "__main__":
    # Leave as the `linnet` command does (linnet.cli.run): flush, then os._exit, no interpreter teardown.
    # Tearing torch's distributed threads down at exit aborted a rank once in a fresh-clone CI run
    # ("terminate called without an active exception", after every job had finished): a path a linnet
    # process never takes. An exception out of main() still exits non-zero with its traceback.
    main(json.loads(sys.argv[1]))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
