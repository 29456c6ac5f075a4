"""What every connector shares: profile loading, optional imports, ``if_exists``, error wrapping.

Connector modules import their heavy third-party packages through :func:`require`, inside
methods, so ``import jupyter_blocks.io`` stays cheap and a missing package names its extra.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, TypeVar, get_args

from jupyter_blocks.core.errors import ConfigError, ConnectorError, did_you_mean, missing_extra
from jupyter_blocks.io.config import Profile, load_profile

IfExists = Literal["replace", "append", "fail"]
IF_EXISTS_CHOICES: tuple[str, ...] = get_args(IfExists)

_ConnectorT = TypeVar("_ConnectorT", bound="Connector")


def require(module: str, package: str, extra: str) -> ModuleType:
    """Import an optional ``module``, or raise the error naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise missing_extra(package, extra) from exc


def check_if_exists(if_exists: str) -> IfExists:
    """Validate an ``if_exists`` argument."""
    if if_exists not in IF_EXISTS_CHOICES:
        raise ConfigError(
            f"if_exists: expected one of {', '.join(IF_EXISTS_CHOICES)}, got {if_exists!r}"
            f"{did_you_mean(str(if_exists), IF_EXISTS_CHOICES)}"
        )
    return if_exists  # type: ignore[return-value]


def scrub(message: str, secrets: Iterable[str | None]) -> str:
    """Replace every secret in ``message`` with ``***``."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return message


def wrap_error(
    context: str, exc: BaseException, secrets: Iterable[str | None] = ()
) -> ConnectorError:
    """Build the ``ConnectorError`` for a third-party failure, with secrets removed.

    The caller raises it ``from exc`` unless ``exc`` itself quotes a secret (check with
    :func:`quotes_secret`), in which case the chain is cut so the secret is not printed.
    """
    detail = " ".join(str(exc).split()) or type(exc).__name__
    return ConnectorError(f"{context}: {scrub(detail, secrets)}")


def quotes_secret(exc: BaseException, secrets: Iterable[str | None]) -> bool:
    """Whether ``exc``'s message contains one of ``secrets``."""
    text = str(exc)
    return any(secret and secret in text for secret in secrets)


class Connector:
    """Base of the connectors: ``with_config`` builds one from a profile.

    Attributes:
        profile_name: The profile the connector was built from, for messages.
    """

    profile_name: str | None = None

    @classmethod
    def with_config(
        cls: type[_ConnectorT],
        profile: str = "default",
        config_path: Path | str | None = None,
        directory: Path | str | None = None,
    ) -> _ConnectorT:
        """Build the connector from a profile of ``io_config.yaml``.

        Args:
            profile: Profile name.
            config_path: The profile file; found by walking up from ``directory`` when None.
            directory: Project or notebook folder to start the search from (default: cwd).
        """
        return cls.from_profile(load_profile(profile, config_path, directory))

    @classmethod
    def from_profile(cls: type[_ConnectorT], profile: Profile) -> _ConnectorT:
        """Build the connector from a validated profile."""
        raise NotImplementedError

    def _context(self, kind: str) -> str:
        name = f" profile '{self.profile_name}'" if self.profile_name else ""
        return f"{kind}{name}"


def arrow_table(data: Any) -> Any:
    """Return ``data`` (a pandas DataFrame or an Arrow table) as an Arrow table."""
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    return pa.Table.from_pandas(data, preserve_index=False)


def arrow_to_pandas(table: Any) -> Any:
    """Convert a query result to the dtypes a pandas user expects of it.

    Integer and boolean columns holding nulls become nullable ``Int64``/``boolean``. Decimals,
    which databases give for aggregates (DuckDB's ``SUM`` of integers is a ``HUGEINT``, a
    ``decimal128(38, 0)`` in Arrow; BigQuery's ``NUMERIC`` has 9 decimal places), would be
    ``object`` columns of ``decimal.Decimal``: those without decimal places whose values fit
    become ``int64`` (``Int64`` with nulls), the others ``float64``.
    """
    import pandas as pd
    import pyarrow as pa

    decimals = [position for position, column in enumerate(table.columns)
                if pa.types.is_decimal(column.type)]
    if decimals:
        table = _without_decimals(table, decimals)
    frame = table.to_pandas()
    for position, column in enumerate(table.columns):
        if column.null_count and pa.types.is_integer(column.type):
            frame.isetitem(position, pd.array(column.to_pylist(), dtype="Int64"))
        elif column.null_count and pa.types.is_boolean(column.type):
            frame.isetitem(position, pd.array(column.to_pylist(), dtype="boolean"))
    return frame


def _without_decimals(table: Any, positions: list[int]) -> Any:
    """``table`` with its decimal columns at ``positions`` cast to ``int64`` or ``float64``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = list(table.columns)
    for position in positions:
        column = columns[position]
        target = pa.float64()
        if column.type.scale == 0:
            low, high = (value.as_py() for value in pc.min_max(column).values())
            if low is None or (low >= -(2**63) and high < 2**63):
                target = pa.int64()
        # To float64 the cast rounds to the nearest float, which an unsafe cast allows.
        columns[position] = column.cast(target, safe=target == pa.int64())
    return pa.Table.from_arrays(columns, names=table.column_names)
