"""jupyter-blocks: Mage-style data pipelines built inside Jupyter notebooks.

``%load_ext jupyter_blocks`` adds the ``%%block`` and ``%blocks`` magics. Importing this package
stays light: the runner, pandas and pyarrow load when a block first runs.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_session: Any = None


def load_ipython_extension(ipython: Any) -> None:
    """Called by ``%load_ext jupyter_blocks``."""
    global _session
    if _session is not None and _session.namespace is ipython.user_ns:
        return
    from jupyter_blocks.kernel.magics import load

    _session = load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Called by ``%unload_ext jupyter_blocks``."""
    global _session
    _session = None


def output(name: str) -> Any:
    """The last output of block ``name`` in this kernel."""
    if _session is None:
        from jupyter_blocks.core.errors import BlocksError

        raise BlocksError("jupyter_blocks is not loaded in this kernel: run %load_ext "
                          "jupyter_blocks first")
    return _session.output(name)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-blocks"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "jupyter_blocks.server"}]


__all__ = ["__version__", "load_ipython_extension", "output", "unload_ipython_extension"]
