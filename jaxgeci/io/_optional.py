"""Lazy imports of optional dependencies with an error that names the extra to install."""

from __future__ import annotations

import importlib


def require(module: str, extra: str, purpose: str):
    """Import ``module`` or raise an ``ImportError`` naming the pip extra that provides it.

    Args:
        module: importable name, e.g. ``"pynwb"``.
        extra: the jaxgeci extra, e.g. ``"io"`` (``pip install 'jaxgeci[io]'``).
        purpose: what the caller wanted to do, for the message.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            f"{purpose} needs the optional dependency {module!r}, which is not installed "
            f"(or failed to import: {err}). Install it with: pip install 'jaxgeci[{extra}]'."
        ) from err
