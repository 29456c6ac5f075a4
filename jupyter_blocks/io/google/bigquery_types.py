"""BigQuery's types for our values: table columns for Arrow schemas, query parameters for Python.

What belongs here: :func:`bigquery_schema` (the ``SchemaField`` of each column a frame loads
into) and :func:`query_parameters` (typed ``@name`` parameters), unit-tested without a server.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jupyter_blocks.core.errors import ConfigError
from jupyter_blocks.io.connector import require

if TYPE_CHECKING:
    import pyarrow as pa


def _bigquery() -> Any:
    return require("google.cloud.bigquery", "google-cloud-bigquery", "bigquery")


def bigquery_schema(schema: pa.Schema) -> list[Any]:
    """``SchemaField``s for an Arrow schema (the table's columns when a frame is loaded)."""
    import pyarrow as pa

    bigquery = _bigquery()
    t = pa.types
    rules: list[tuple[Any, str]] = [
        (t.is_boolean, "BOOL"),
        (t.is_integer, "INT64"),
        (t.is_floating, "FLOAT64"),
        (lambda x: t.is_string(x) or t.is_large_string(x) or t.is_null(x), "STRING"),
        (lambda x: t.is_binary(x) or t.is_large_binary(x), "BYTES"),
        (t.is_date, "DATE"),
        (t.is_time, "TIME"),
        (lambda x: t.is_decimal(x) and x.precision <= 38, "NUMERIC"),
        (t.is_decimal, "BIGNUMERIC"),
    ]
    fields = []
    for field in schema:
        value_type = field.type.value_type if t.is_dictionary(field.type) else field.type
        if t.is_timestamp(value_type):
            kind = "TIMESTAMP" if value_type.tz is not None else "DATETIME"
        else:
            kind = next((name for rule, name in rules if rule(value_type)), "")
        if not kind:
            raise ConfigError(f"column {field.name!r}: type {value_type} has no BigQuery type here")
        fields.append(bigquery.SchemaField(field.name, kind))
    return fields


def query_parameters(params: Mapping[str, Any] | None) -> list[Any]:
    """Build ``@name`` query parameters, typed from the Python values."""
    bigquery = _bigquery()
    result = []
    for name, value in (params or {}).items():
        if isinstance(value, (list, tuple)):
            kinds = {parameter_type(item) for item in value if item is not None}
            if len(kinds) > 1:
                raise ConfigError(f"query parameter {name}: mixed types in the list")
            result.append(
                bigquery.ArrayQueryParameter(name, kinds.pop() if kinds else "STRING", list(value))
            )
        else:
            result.append(bigquery.ScalarQueryParameter(name, parameter_type(value), value))
    return result


def parameter_type(value: Any) -> str:
    """The BigQuery type of one Python value."""
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int):
        return "INT64"
    if isinstance(value, float):
        return "FLOAT64"
    if isinstance(value, decimal.Decimal):
        return "NUMERIC"
    if isinstance(value, dt.datetime):
        return "TIMESTAMP" if value.tzinfo is not None else "DATETIME"
    if isinstance(value, dt.date):
        return "DATE"
    if isinstance(value, dt.time):
        return "TIME"
    if isinstance(value, bytes):
        return "BYTES"
    if value is None or isinstance(value, str):
        return "STRING"
    raise ConfigError(f"no BigQuery parameter type for a {type(value).__name__}")
