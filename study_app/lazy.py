"""Package attributes that import their module on first use (PEP 562).

``import study_app`` and the packages a notebook reaches first (``store``, ``report``,
``models``) must stay cheap: the annotation window imports them at start-up and must not
pay for pandas, matplotlib, the statistics or onnxruntime. Each such package lists its
public names by module; the names are visible to type checkers and editors through the
package's own ``TYPE_CHECKING`` imports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from importlib import import_module
from typing import Any


def lazy_names(modules: Mapping[str, Sequence[str]]) -> list[str]:
    """Every name of a ``{module: names}`` table, sorted (the package's ``__all__``)."""
    return sorted(name for names in modules.values() for name in names)


def lazy_attributes(package: str, modules: Mapping[str, Sequence[str]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``package.<module>`` when one of its names is asked for."""
    module_of = {name: module for module, names in modules.items() for name in names}

    def attribute(name: str) -> Any:
        if name not in module_of:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(f"{package}.{module_of[name]}"), name)

    return attribute
