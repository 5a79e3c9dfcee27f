"""Package faces that hand names on lazily: ``from taoke import audit`` imports the audit job, and only it.

``import taoke`` must stay light (a CLI start, a ``--help``), while the jobs behind its names import
scipy, SQLAlchemy and the analyzers. A face lists which module defines each name and installs the pair
of module hooks from :func:`lazy_face` (PEP 562): a name is imported on first use, then kept.
"""

from __future__ import annotations

import importlib
import sys

# No typing/collections.abc imports here: this runs on every ``import taoke`` and typing alone costs
# more than the rest of it; annotations stay plain.


def lazy_face(package: str, names: dict[str, str]) -> tuple[object, object]:
    """``(__getattr__, __dir__)`` for ``package``, handing on each of ``names`` (name -> defining module)."""

    def __getattr__(name: str) -> object:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(names[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *names})

    return __getattr__, __dir__
