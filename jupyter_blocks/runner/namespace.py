"""The globals headless block bodies see: the outside imports they use, run where they run.

What belongs here: :class:`ImportedNamespace`, a mapping made by running import statements, and
:func:`namespace_for`, the one of a pipeline. It pickles as the statements, not the modules, so a
block sent to another process (``--executor processes`` or ``dask``) re-runs its imports there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from jupyter_blocks.core.block import BlockSpec
from jupyter_blocks.core.body import BodyInfo
from jupyter_blocks.core.errors import ConfigError
from jupyter_blocks.core.pipeline import Pipeline


class ImportedNamespace(Mapping[str, Any]):
    """Globals made by running ``imports`` (``(statement, where it stands)`` pairs) on first use.

    Raises:
        ConfigError: On first use, when a statement fails (naming where it stands).
    """

    def __init__(self, imports: Sequence[tuple[str, str]]) -> None:
        self.imports = tuple(imports)
        self._values: dict[str, Any] | None = None

    def load(self) -> ImportedNamespace:
        """Run the statements now (they run once); return self."""
        if self._values is None:
            values: dict[str, Any] = {}
            for statement, where in self.imports:
                try:
                    exec(statement, values)
                except Exception as exc:
                    raise ConfigError(
                        f"{where}: `{statement}` failed: {type(exc).__name__}: {exc}"
                    ) from None
            values.pop("__builtins__", None)
            self._values = values
        return self

    def __getitem__(self, name: str) -> Any:
        return self._loaded()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())

    def __reduce__(self) -> tuple[Any, ...]:
        return (ImportedNamespace, (self.imports,))

    def _loaded(self) -> dict[str, Any]:
        self.load()
        assert self._values is not None
        return self._values


def namespace_for(pipeline: Pipeline, analyse: Callable[[BlockSpec], BodyInfo]
                  ) -> ImportedNamespace:
    """The globals a pipeline's blocks see headless: the scratch-cell imports they use, made now.

    Raises:
        ConfigError: An import fails (naming the cell it stands in).
    """
    used: dict[str, tuple[str, str]] = {}
    if pipeline.imports:
        for spec in pipeline.blocks:
            if spec.lang != "python":
                continue
            free = analyse(spec).free_names - set(spec.upstream)
            for name, found in pipeline.imports.items():
                if name in free:
                    used.setdefault(found.statement, (found.statement, found.where))
    return ImportedNamespace(tuple(used.values())).load()
