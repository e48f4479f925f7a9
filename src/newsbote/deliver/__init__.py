"""Deliver: one module per destination kind, discovered by ``kind``."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import Any

from newsbote.deliver.base import DeliverContext, Destination, Options


@cache
def destination_kinds() -> dict[str, type[Destination[Any]]]:
    """Every :class:`Destination` subclass in this package, by its ``kind``."""
    for module in pkgutil.iter_modules(__path__):
        if module.name != "base":
            importlib.import_module(f"{__name__}.{module.name}")
    kinds: dict[str, type[Destination[Any]]] = {}
    pending = list(Destination.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if getattr(cls, "kind", None):
            kinds[cls.kind] = cls
    return kinds


__all__ = ["DeliverContext", "Destination", "Options", "destination_kinds"]
