"""`linnet losses [--out FILE.png]`: the L2 / L1 / Huber losses (and gradients) and LogSumExp figure."""
from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("losses", help="draw the L2 / L1 / Huber losses and LogSumExp figure")
    p.add_argument("--out", default="losses.png", metavar="FILE.png", help="the PNG file to write")
    p.set_defaults(run=run)


def run(args) -> int:
    from linnet.plots import plot_losses, save_figure
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    save_figure(plot_losses(), args.out)
    print(f"losses figure: {args.out}")
    return 0
