"""Where linnet keeps data on disk when no directory is given: $LINNET_DATA/<name>, else the per-user
cache <cache>/linnet/<name>. Named datasets (linnet.data.sources) and the decoded-image cache of
image folders (linnet.data.folders) both live there; its own module so that neither imports the other.
"""
from __future__ import annotations

import os
from pathlib import Path


def default_data_dir(name: str) -> Path:
    """Where a dataset's files live when no --data-dir is given: $LINNET_DATA/<name> or the cache."""
    root = os.environ.get("LINNET_DATA")
    if root:
        return Path(root).expanduser() / name
    import pooch  # deferred: only needed to locate the cache
    return Path(pooch.os_cache("linnet")) / name
