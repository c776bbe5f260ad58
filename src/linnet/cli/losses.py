"""`linnet losses [--out FILE.png]`: the L2 / L1 / Huber losses (and gradients) and LogSumExp figure."""
from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("losses", help="draw the L2 / L1 / Huber losses and LogSumExp figure")
    p.add_argument("--out", default="losses.png", metavar="FILE.png", help="the PNG file to write")
    p.set_defaults(run=run)


def run(args) -> int:
    from linnet.atomic import check_output_path, make_parent
    out = check_output_path("out", args.out)
    from linnet.plots import plot_losses, save_figure
    save_figure(plot_losses(), make_parent(out))
    print(f"losses figure: {args.out}")
    return 0
