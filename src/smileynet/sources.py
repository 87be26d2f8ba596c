"""Deprecated: the `smileynet.collect` package, under the name it had before it was named after its command."""

import warnings

import smileynet.collect as _new

__all__ = _new.__all__


def __getattr__(name: str) -> object:
    warnings.warn("smileynet.sources is deprecated: use smileynet.collect", DeprecationWarning, stacklevel=2)
    return getattr(_new, name)
