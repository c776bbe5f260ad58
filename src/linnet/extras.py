"""Optional dependencies (pyproject's extras): import one, or say in one line which extra installs it."""
from __future__ import annotations

import importlib
from types import ModuleType

from linnet.errors import LinnetError


class MissingExtra(LinnetError, ImportError):
    """An optional package a feature needs is not installed; the message names the extra."""


def require(module: str, extra: str, feature: str) -> ModuleType:
    """`import module`, or MissingExtra: "ONNX export needs the onnx package: pip install 'linnet[onnx]'"."""
    try:
        return importlib.import_module(module)
    except ImportError:
        package = module.split(".")[0]
        raise MissingExtra(f"{feature} needs the {package} package, which is not installed: "
                           f"pip install 'linnet[{extra}]'") from None
