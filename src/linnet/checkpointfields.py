"""What a linnet checkpoint may hold, field by field (linnet.runs writes and reads the file).

The checkpoint's SHA-256 digest is not keyed: it catches accidents (a cut or flipped file, a stray
edit), not someone who edits the file and signs it again. So every field is validated here as
well, signed or not: the exact set of metadata fields, the epoch count, the metrics digest, `meta`,
the weights and the RNG state. A bad one is a CheckpointError naming the file and the field.
"""
from __future__ import annotations

import json

import torch

from linnet.errors import LinnetError

META_KEYS = {"format", "epoch", "metrics_sha256", "last", "meta", "sha256"}   # a checkpoint's metadata, exactly


class CheckpointError(LinnetError):
    """A checkpoint is missing, truncated, edited or not ours; nothing is overwritten."""


def check_metadata(metadata: dict, fmt: str, where: str) -> tuple[int, str, dict]:
    """(epoch, metrics digest, meta) after checking every field: the digest is not keyed, so a
    re-signed file must still hold only values of the right kind."""
    if metadata.get("format") != fmt:
        raise CheckpointError(f"{where}: not a linnet checkpoint (format {metadata.get('format')!r}, "
                              f"expected {fmt!r})")
    try:
        if set(metadata) != META_KEYS:
            raise ValueError(f"fields {sorted(map(str, metadata))}, expected {sorted(META_KEYS)}")
        if not all(isinstance(v, str) for v in metadata.values()):
            raise ValueError("a field that is not a string")
        if not metadata["epoch"].isdigit() or len(metadata["epoch"]) > 12:
            raise ValueError(f"epoch {metadata['epoch'][:20]!r} is not a count")
        digest = metadata["metrics_sha256"]
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError("metrics_sha256 is not a SHA-256 digest")
        meta = json.loads(metadata["meta"])
        check_meta(meta)
    except (TypeError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"{where}: checkpoint metadata is damaged or edited ({exc})") from None
    return int(metadata["epoch"]), digest, meta


def check_meta(meta) -> None:
    """The `meta` JSON: {"model": str, "impl": str, "stats"?: {"mean": [numbers], "std": [numbers]}}."""
    if not isinstance(meta, dict) or not all(isinstance(meta.get(k, ""), str) for k in ("model", "impl")):
        raise ValueError(f"meta must be an object with text 'model' and 'impl', got {str(meta)[:60]}")
    extra = set(meta) - {"model", "impl", "stats"}
    if extra:
        raise ValueError(f"meta has unknown fields {sorted(extra)}")
    stats = meta.get("stats")
    if stats is not None:
        if not isinstance(stats, dict) or not all(
                isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
                for v in stats.values()):
            raise ValueError("meta 'stats' must map names to lists of numbers")


def check_tensors(tensors: dict[str, torch.Tensor], state: dict[str, torch.Tensor], where: str) -> None:
    """Weights are finite floating point; the RNG state is the byte vector torch.set_rng_state takes."""
    unknown = sorted(k for k in tensors if k != "rng.torch" and not k.startswith("model."))
    if unknown or not state:
        raise CheckpointError(f"{where}: unexpected tensors {unknown or 'and no weights'}; it was edited")
    for name, tensor in state.items():
        if not tensor.is_floating_point():  # an edited dtype: the bytes would be read as other numbers
            raise CheckpointError(f"{where}: weights {name!r} are {str(tensor.dtype).removeprefix('torch.')}, "
                                  "expected floating point")
        if not torch.isfinite(tensor).all():
            raise CheckpointError(f"{where}: weights {name!r} contain NaN or Inf")
    rng = tensors.get("rng.torch")
    if rng is None or rng.dtype != torch.uint8 or rng.dim() != 1 or rng.numel() != torch.get_rng_state().numel():
        got = "missing" if rng is None else f"{str(rng.dtype).removeprefix('torch.')} of shape {tuple(rng.shape)}"
        raise CheckpointError(f"{where}: the RNG state must be uint8 of shape {tuple(torch.get_rng_state().shape)}; "
                              f"got {got}")
