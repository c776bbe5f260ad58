"""The book's framework-neutral tensor names (d2l.tensor, d2l.reshape, d2l.reduce_sum, ...).

The book prints one code cell for MXNet, PyTorch and TensorFlow where it can, written with these
names; for PyTorch each is a torch function or tensor method, nothing more.
"""
from __future__ import annotations

import torch

ones, zeros, tensor, arange, meshgrid = torch.ones, torch.zeros, torch.tensor, torch.arange, torch.meshgrid
sin, sinh, cos, cosh, tanh = torch.sin, torch.sinh, torch.cos, torch.cosh, torch.tanh
linspace, exp, log, normal, rand, randn = torch.linspace, torch.exp, torch.log, torch.normal, torch.rand, torch.randn
matmul, concat, stack, abs, eye, sigmoid = torch.matmul, torch.cat, torch.stack, torch.abs, torch.eye, torch.sigmoid
batch_matmul = torch.bmm
int32, int64, float32 = torch.int32, torch.int64, torch.float32


def numpy(x, *args, **kwargs):
    return x.detach().numpy(*args, **kwargs)


def size(x, *args, **kwargs):
    return x.numel(*args, **kwargs)


def reshape(x, *args, **kwargs):
    return x.reshape(*args, **kwargs)


def to(x, *args, **kwargs):
    return x.to(*args, **kwargs)


def reduce_sum(x, *args, **kwargs):
    return x.sum(*args, **kwargs)


def reduce_mean(x, *args, **kwargs):
    return x.mean(*args, **kwargs)


def argmax(x, *args, **kwargs):
    return x.argmax(*args, **kwargs)


def astype(x, *args, **kwargs):
    return x.type(*args, **kwargs)


def transpose(x, *args, **kwargs):
    return x.t(*args, **kwargs)


def expand_dims(x, *args, **kwargs):
    return x.unsqueeze(*args, **kwargs)


def swapaxes(x, *args, **kwargs):
    return x.swapaxes(*args, **kwargs)


def repeat(x, *args, **kwargs):
    return x.repeat(*args, **kwargs)


NAMES = ("ones", "zeros", "tensor", "arange", "meshgrid", "sin", "sinh", "cos", "cosh", "tanh", "linspace",
         "exp", "log", "normal", "rand", "randn", "matmul", "concat", "stack", "abs", "eye", "sigmoid",
         "batch_matmul", "int32", "int64", "float32", "numpy", "size", "reshape", "to", "reduce_sum",
         "reduce_mean", "argmax", "astype", "transpose", "expand_dims", "swapaxes", "repeat")
