"""The decorators block files import: ``from jupyter_blocks.decorators import transformer``.

Exported block files guard this import (``if 'transformer' not in globals(): ...``) so the same
file runs under Mage, which injects its own. The decorators live in
:mod:`jupyter_blocks.core.decorators`; this module is the stable path block files name.
"""

from __future__ import annotations

from jupyter_blocks.core.decorators import (
    callback,
    condition,
    conditional,
    custom,
    data_exporter,
    data_loader,
    on_failure,
    on_success,
    sensor,
    test,
    transformer,
)

__all__ = ["callback", "condition", "conditional", "custom", "data_exporter", "data_loader",
           "on_failure", "on_success", "sensor", "test", "transformer"]
