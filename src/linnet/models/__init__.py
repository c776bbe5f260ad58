"""One model, three ways: softmax and linear regression, each implemented three times.

  scratch.py   plain tensor ops + autograd + the chapter's `sgd` (linnet.functional)
  concise.py   torch.nn + torch.optim.SGD
  fast.py      the gradient written by hand (softmax(o) - onehot(y)), no autograd: the default;
               kernel.py + _kernel.c are its compiled inner loop (optional build)
  base.py      the Model interface they share, input/state checks, the initialisation

Per step, all three do  param -= lr * (grad_of_summed_loss / batch_size + weight_decay * param),
with weight decay on W / w only, never on the bias. `build_model` draws the initial weights once,
the same way for every implementation, so the three can be compared step for step.
"""
from __future__ import annotations

import torch

from linnet.checks import check_choice, check_int, check_parameters
from linnet.config import IMPLS, MODELS
from linnet.errors import ConfigError
from linnet.models import concise, fast, scratch
from linnet.models.base import Model, init_params

__all__ = ["IMPLS", "MODELS", "Model", "build_model", "init_params"]


def build_model(model: str, impl: str, num_inputs: int, num_outputs: int = 10, *,
                generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32,
                device: str | torch.device = "cpu") -> Model:
    """A freshly initialised `model` ("softmax" | "linear") in implementation `impl` (see IMPLS)."""
    check_choice("model", model, MODELS)
    check_choice("impl", impl, IMPLS)
    check_int("num_inputs", num_inputs, 1)
    if model == "linear" and num_outputs != 1:
        raise ConfigError(f"The 'num_outputs' parameter must be 1 for the linear model. Got {num_outputs!r}.")
    if model == "softmax":
        check_int("num_outputs", num_outputs, 2)
    check_parameters(num_inputs, num_outputs)  # before init_params allocates them
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ConfigError(f"The 'dtype' parameter must be a floating-point torch.dtype. Got {dtype!r}.")
    W, b = init_params(num_inputs, num_outputs, generator, dtype)
    module = {"fast": fast, "scratch": scratch, "concise": concise}[impl]
    cls = module.SoftmaxRegression if model == "softmax" else module.LinearRegression
    return cls(W, b).to(device)
