"""Optional dependencies (pyproject's extras): import one, or say in one line which extra installs it."""
from __future__ import annotations

import importlib
from types import ModuleType

from linnet.errors import LinnetError


class MissingExtra(LinnetError, ImportError):
    """An optional package a feature needs is not installed; the message names the extra."""


def require(module: str, extra: str, feature: str, package: str | None = None) -> ModuleType:
    """`import module`, or MissingExtra: "ONNX export needs the onnx package, which is not installed:
    pip install 'linnet[onnx]'". `package` names what is missing when the module is only a door to it
    (torch.utils.tensorboard needs the tensorboard package)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(f"{feature} needs the {package or module.split('.')[0]} package, which is not "
                           f"installed: pip install 'linnet[{extra}]'") from None
