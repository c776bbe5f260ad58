"""ONNX export: a run's model with its preprocessing inside the graph, runnable without linnet or torch.

The graph takes the input a user has, not the tensors linnet trains on:

    images  uint8 (N, H, W) -> Cast float -> Mul 1/255 -> Flatten -> Gemm(W, b) -> Softmax -> probabilities (N, k)
                                                                                -> ArgMax  -> label (N,) int64
    features float32 (N, d) -> [Sub mean -> Div std] -> Gemm(w, b) -> predictions (N, 1)

Everything between the raw input and the linear layer is one `Preprocessing` value: the dtype and
shape of a sample, a scale, and an optional per-feature standardisation (mean, std). A run says
which one it used in `preprocessing_for`; a dataset kind that linnet does not know how to
preprocess is refused there rather than exported with a silent mismatch. The graph is built with
onnx's helper API directly: a linear model is a handful of nodes, no tracing needed.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from linnet.errors import LinnetError

FORMATS = ("onnx",)
OPSET = 17                 # Softmax/ArgMax/Gemm as used here exist since opset 13; 17 runs on every onnxruntime >= 1.12
IMAGE_DATASETS = ("fashion-mnist", "mnist", "digits")   # uint8 images, scaled by 1/255 in the loader


class ExportError(LinnetError, ValueError):
    """A run that cannot be exported (untrained, unknown preprocessing); the message names the run."""


@dataclass(frozen=True)
class Preprocessing:
    """How the raw input the user has becomes the model's features: the one step a run supplies.

    features = (flatten(cast(x)) * scale - mean) / std, per feature; mean / std None: no standardisation.
    """
    input_name: str                      # the graph input's name: "images" or "features"
    input_dtype: str                     # "uint8" or "float32"
    sample_shape: tuple[int, ...]        # one sample: (H, W) for images, (d,) for features
    scale: float = 1.0                   # 1/255: uint8 pixels to [0, 1], as linnet's loader does
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if (self.mean is None) != (self.std is None):
            raise ExportError("The preprocessing's 'mean' and 'std' go together: give both or neither.")
        for name in ("mean", "std"):
            values = getattr(self, name)
            if values is not None and len(values) != self.num_features:
                raise ExportError(f"The preprocessing's {name!r} must have one value per feature "
                                  f"({self.num_features}). Got {len(values)}.")

    @property
    def num_features(self) -> int:
        return math.prod(self.sample_shape)


def preprocessing_for(run) -> Preprocessing:
    """The preprocessing a loaded run (linnet.restore.LoadedRun) trained with.

    A run on your own data (--data): an image folder or .npz images take uint8 pixels at the size
    they were decoded to ((H, W), or (C, H, W) in colour); a table takes its raw feature columns, in
    the run's order, standardised inside the graph with the statistics its checkpoint stores.
    """
    if getattr(run.config, "data", None) is not None:  # getattr: a config-like object without the field
        if run.input_hw is not None:
            shape = tuple(run.input_hw) if (run.channels or 1) == 1 else (run.channels, *run.input_hw)
            return Preprocessing("images", "uint8", shape, scale=1.0 / 255.0)
        return Preprocessing("features", "float32", (run.model.num_inputs,),
                             mean=tuple(run.stats["mean"]), std=tuple(run.stats["std"]))
    dataset = run.config.resolved("dataset")
    if dataset in IMAGE_DATASETS and run.input_hw is not None:
        return Preprocessing("images", "uint8", tuple(run.input_hw), scale=1.0 / 255.0)
    if dataset == "synthetic":
        return Preprocessing("features", "float32", (run.model.num_inputs,))
    raise ExportError(f"{run.run_dir}: cannot be exported: it trained on {dataset!r}, whose preprocessing "
                      "linnet export does not know (it knows image datasets and 'synthetic')")


def to_onnx(model, prep: Preprocessing, classes=(), metadata: dict | None = None):
    """An onnx.ModelProto computing `model` (a linnet Model) on raw input preprocessed by `prep`."""
    from linnet.extras import require
    onnx = require("onnx", "onnx", "ONNX export")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    if prep.num_features != model.num_inputs:
        raise ExportError(f"The preprocessing gives {prep.num_features} features per sample but the model takes "
                          f"{model.num_inputs}.")
    W, b = (t.detach().cpu().numpy().astype(np.float32) for t in model.state_dict().values())  # (d, k), (k,)
    consts = {"W_t": np.ascontiguousarray(W.T), "b": b}                                          # (k, d): Gemm transB
    nodes, x = [], prep.input_name
    if prep.input_dtype != "float32":
        nodes.append(helper.make_node("Cast", [x], ["x_float"], to=TensorProto.FLOAT))
        x = "x_float"
    if prep.scale != 1.0:
        consts["scale"] = np.array(prep.scale, dtype=np.float32)
        nodes.append(helper.make_node("Mul", [x, "scale"], ["x_scaled"]))
        x = "x_scaled"
    if len(prep.sample_shape) != 1:
        nodes.append(helper.make_node("Flatten", [x], ["x_flat"], axis=1))      # (N, H, W) -> (N, H*W)
        x = "x_flat"
    if prep.mean is not None:
        consts["mean"] = np.asarray(prep.mean, dtype=np.float32)                  # (d,)
        consts["std"] = np.asarray(prep.std, dtype=np.float32)                    # (d,)
        nodes += [helper.make_node("Sub", [x, "mean"], ["x_centred"]),
                  helper.make_node("Div", ["x_centred", "std"], ["x_std"])]
        x = "x_std"
    k = W.shape[1]
    if model.kind == "softmax":
        nodes += [helper.make_node("Gemm", [x, "W_t", "b"], ["logits"], transB=1),   # (N, d) @ (d, k) + (k,)
                  helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
                  helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=0)]
        outputs = [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", k]),
                   helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])]
    else:
        nodes.append(helper.make_node("Gemm", [x, "W_t", "b"], ["predictions"], transB=1))  # (N, d) @ (d, 1) + (1,)
        outputs = [helper.make_tensor_value_info("predictions", TensorProto.FLOAT, ["N", 1])]
    elem = {"uint8": TensorProto.UINT8, "float32": TensorProto.FLOAT}[prep.input_dtype]
    graph = helper.make_graph(
        nodes, "linnet", [helper.make_tensor_value_info(prep.input_name, elem, ["N", *prep.sample_shape])], outputs,
        initializer=[numpy_helper.from_array(v, name) for name, v in consts.items()])
    opset = helper.make_opsetid("", OPSET)
    proto = helper.make_model(graph, opset_imports=[opset], producer_name="linnet",
                              ir_version=helper.find_min_ir_version_for([opset]))
    from linnet import __version__
    proto.producer_version = __version__
    props = {"classes": json.dumps(list(classes)), "model": model.kind, "preprocessing": json.dumps(asdict(prep)),
             **(metadata or {})}
    helper.set_model_props(proto, {key: str(value) for key, value in props.items()})
    onnx.checker.check_model(proto, full_check=True)        # types and shapes infer through every node
    return proto


def signature(proto) -> str:
    """What an exported model takes and gives: 'images uint8 (N, 8, 8) -> probabilities float32 (N, 10), ...'."""
    from onnx import helper

    def one(value) -> str:
        t = value.type.tensor_type
        dims = [d.dim_param or str(d.dim_value) for d in t.shape.dim]
        shape = f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(dims)})"
        return f"{value.name} {helper.tensor_dtype_to_np_dtype(t.elem_type)} {shape}"
    return (", ".join(map(one, proto.graph.input)) + " -> " + ", ".join(map(one, proto.graph.output)))


def export_run(run_dir: str | os.PathLike, out: str | os.PathLike | None = None, format: str = "onnx") -> Path:
    """Write the run's model as ONNX (default: RUN_DIR/model.onnx); returns the path written."""
    from linnet.atomic import atomic_write_bytes
    from linnet.checks import check_choice
    from linnet.restore import load_run
    check_choice("format", format, FORMATS)
    run = load_run(run_dir)
    if not run.history:
        raise ExportError(f"{run.run_dir}: has no completed epoch (its checkpoint holds the initial weights); "
                          f"train it first, or continue it with: linnet train --resume {run.run_dir}")
    prep = preprocessing_for(run)
    proto = to_onnx(run.model, prep, run.classes,
                    {"run": run.run_dir.name, "epochs": len(run.history), "dataset": run.config.resolved("dataset")})
    path = Path(out) if out is not None else run.run_dir / "model.onnx"
    return atomic_write_bytes(path, proto.SerializeToString())
