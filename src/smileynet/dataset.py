"""Deprecated: the `smileynet.sample` package, under the name it had before it was named after its command."""

import warnings

import smileynet.sample as _new

__all__ = _new.__all__


def __getattr__(name: str) -> object:
    warnings.warn("smileynet.dataset is deprecated: use smileynet.sample", DeprecationWarning, stacklevel=2)
    return getattr(_new, name)
