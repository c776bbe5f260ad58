"""TensorBoard logging: a callback that writes each epoch's curves and the weight images.

Per epoch, with the epoch as the step (a resumed run continues its curves):
    loss/train, loss/test, accuracy/train, accuracy/test (softmax only), lr      scalars
    weights/<i> <class>   each class's weight column as an (H, W) picture       images (softmax on images)
The scalars are written in double precision: the event file holds exactly the numbers of
metrics.csv. The images use weights.png's colours: red pushes toward the class, blue away, white
is zero, one scale for all classes of an epoch.

Written with torch.utils.tensorboard, which needs the `tensorboard` package (linnet's extra of
the same name); `tensorboard --logdir runs` then shows every run logged into its run directory.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch

from linnet.errors import ConfigError
from linnet.extras import require
from linnet.train import Callback, EpochRecord


def require_tensorboard():
    """torch.utils.tensorboard, or one line naming the extra to install."""
    return require("torch.utils.tensorboard", "tensorboard", "TensorBoard logging", package="tensorboard")


def make_log_dir(path: Path) -> Path:
    """Create a TensorBoard directory, or one line saying why it cannot be."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the TensorBoard directory {path}: {exc.strerror or exc}") from None
    return path


def weight_images(W: torch.Tensor, image_hw: tuple[int, int]) -> torch.Tensor:
    """W (d, k) -> k RGB images (k, 3, H, W) in [0, 1]: white at 0, red for +max|W|, blue for -max|W|."""
    W = W.detach().cpu().float()
    v = (W / (float(W.abs().max()) or 1.0)).T.reshape(W.shape[1], -1, *image_hw)  # (k, C, H, W) in [-1, 1]
    v = v.mean(dim=1, keepdim=True)                                                 # colour inputs: channels averaged
    pos, neg = v.clamp(min=0), (-v).clamp(min=0)
    return torch.cat([1 - neg, 1 - v.abs(), 1 - pos], dim=1)                        # (k, 3, H, W): R, G, B


class TensorBoard(Callback):
    """Write per-epoch scalars (and weight images when `image_hw` is given) into `log_dir`.

    The event file is closed when fit stops; another fit with the same callback adds a new file to
    the same directory, which TensorBoard reads as the continuation of the same run.
    """

    def __init__(self, log_dir: str | os.PathLike, image_hw: tuple[int, int] | None = None,
                 classes: Sequence[str] = ()) -> None:
        self.summary_writer = require_tensorboard().SummaryWriter   # fails here, before training, when missing
        self.log_dir, self.image_hw, self.classes = Path(log_dir), image_hw, tuple(classes)
        self.writer = None

    def on_epoch_end(self, record: EpochRecord, model, history) -> None:
        if self.writer is None:
            self.writer = self.summary_writer(str(make_log_dir(self.log_dir)))
        scalars = {"loss/train": record.train_loss, "loss/test": record.test_loss,
                   "accuracy/train": record.train_acc, "accuracy/test": record.test_acc, "lr": record.lr}
        for tag, value in scalars.items():
            if value is not None:   # no accuracy for linear regression
                self.writer.add_scalar(tag, value, record.epoch, new_style=True, double_precision=True)
        if self.image_hw is not None and model.kind == "softmax":
            images = weight_images(model.state_dict()["W"], self.image_hw)            # (k, 3, H, W)
            width = len(str(len(images) - 1))
            for i, image in enumerate(images):
                name = self.classes[i].replace("/", "-") if i < len(self.classes) else ""  # '/' would nest the tag
                self.writer.add_image(f"weights/{i:0{width}d} {name}".rstrip(), image, record.epoch)

    def on_fit_end(self, history, model) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
