"""Values from the R worker back to Python: data frames, vectors, scalars, lists, NULL.

What belongs here: :func:`decode`, which turns the worker's answer into Python values with the
type mapping of :mod:`jupyter_blocks.io.r`'s docstring. A column takes the pandas dtype of the
input column of the same name when that column went to R as the same kind of vector and its
values fit it (an identity block returns an equal frame: ``int64`` stays ``int64``, ``bool``
stays ``bool``, an ``object`` column of strings stays ``object``); otherwise the kind's default
dtype applies.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from jupyter_blocks.io.r import ConversionError
from jupyter_blocks.io.r._to_r import EPOCH_DAY, INT_MIN, Spec, tz_name

if TYPE_CHECKING:
    from pandas.api.extensions import ExtensionDtype

logger = logging.getLogger(__name__)

#: R's NA_real_ is a NaN whose low word is 1954.
_LOW_WORD = np.uint64(0xFFFFFFFF)
_NA_REAL_LOW = np.uint64(1954)


def decode(header: Spec, payload: memoryview, hints: Mapping[str, tuple[Any, str]]) -> Any:
    """The Python value of the worker's answer (see :mod:`jupyter_blocks.io.r` for the mapping)."""
    value, end = _decode_value(header, payload, 0, hints)
    if end != len(payload):
        raise ConversionError(f"R's answer has {len(payload) - end} payload bytes left over")
    return value


def _decode_value(spec: Spec, payload: memoryview, at: int,
                  hints: Mapping[str, tuple[Any, str]]) -> tuple[Any, int]:
    kind = spec["k"]
    if kind == "null":
        return None, at
    if kind == "frame":
        columns: dict[str, Any] = {}
        column_names: list[str] = []
        for column in spec["cols"]:
            name = column["name"]
            series, at = _decode_vector(column["v"], payload, at, hints.get(name))
            columns[f"{len(column_names)}"] = series
            column_names.append(name)
        frame = pd.DataFrame(columns, index=pd.RangeIndex(int(spec["nrow"])))
        frame.columns = pd.Index(column_names)
        return frame, at
    if kind == "list":
        items = []
        for item in spec["items"]:
            value, at = _decode_value(item, payload, at, hints)
            items.append(value)
        names = spec.get("names")
        if names and all(names) and len(set(names)) == len(names):
            return dict(zip(names, items, strict=True)), at
        return items, at
    if kind == "vec":
        # As a nullable float, a double vector tells R's NA (None) from NaN (nan).
        hint = (pd.Float64Dtype(), "dbl") if spec["v"]["t"] == "dbl" else None
        series, at = _decode_vector(spec["v"], payload, at, hint)
        values = [_python_scalar(item) for item in series.tolist()]
        names = spec.get("names")
        if names is not None:
            return dict(zip(names, values, strict=True)), at
        return (values[0] if len(values) == 1 else values), at
    raise ConversionError(f"unknown value kind {kind!r} in R's answer")


def _python_scalar(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode_vector(spec: Spec, payload: memoryview, at: int,
                   hint: tuple[Any, str] | None) -> tuple[pd.Series, int]:
    kind, n, size = spec["t"], int(spec["n"]), int(spec["bytes"])
    data = payload[at: at + size]
    hinted = hint[0] if hint is not None and hint[1] == kind else None
    series = _DECODERS[kind](spec, data, n, hinted)
    return series, at + size


def _decode_int(spec: Spec, data: memoryview, n: int, hint: Any) -> pd.Series:
    values = np.frombuffer(data, "<i4", n).astype(np.int64)
    missing = values == INT_MIN
    series = pd.Series(pd.arrays.IntegerArray(values, missing))
    return _apply_hint(series, hint, missing.any())


def _decode_lgl(spec: Spec, data: memoryview, n: int, hint: Any) -> pd.Series:
    values = np.frombuffer(data, "<i4", n)
    missing = values == INT_MIN
    series = pd.Series(pd.arrays.BooleanArray(values != 0, missing))
    return _apply_hint(series, hint, missing.any())


def _decode_dbl(spec: Spec, data: memoryview, n: int, hint: Any) -> pd.Series:
    bits = np.frombuffer(data, "<u8", n)
    values = bits.view("<f8").astype(np.float64)
    # R's NA is a signalling NaN; make every NaN a quiet one before numpy computes with it.
    nan = np.isnan(values)
    values[nan] = np.nan
    if hint is not None and isinstance(hint, pd.api.extensions.ExtensionDtype) and hint.kind == "f":
        # A nullable float column keeps R's NA apart from NaN.
        na = nan & ((bits & _LOW_WORD) == _NA_REAL_LOW)
        return pd.Series(pd.arrays.FloatingArray(values, na)).astype(hint)
    series = pd.Series(values)
    return _apply_hint(series, hint, bool(nan.any()))


def _decode_chr(spec: Spec, data: memoryview, n: int, hint: Any) -> pd.Series:
    raw = bytes(data)
    if spec.get("mask"):
        text_bytes, mask = raw[: len(raw) - n], np.frombuffer(raw[len(raw) - n:], np.uint8)
    else:
        text_bytes, mask = raw, None
    strings = text_bytes[:-1].decode("utf-8", "replace").split("\0") if n else []
    values = np.array(strings, dtype=object)
    if mask is not None:
        values[mask.astype(bool)] = None
    if hint is not None:
        try:
            return pd.Series(values, dtype=hint)
        except (TypeError, ValueError):
            pass
    return pd.Series(values) if n else pd.Series(values, dtype=pd.Series([""]).dtype)


def _decode_fct(spec: Spec, data: memoryview, n: int, hint: Any) -> pd.Series:
    codes = np.frombuffer(data, "<i4", n).astype(np.int64)
    codes[codes == INT_MIN] = 0
    levels: list[str] = list(spec.get("levels") or [])
    categories: Any = levels
    if isinstance(hint, pd.CategoricalDtype) and [str(c) for c in hint.categories] == levels:
        categories = hint.categories
    dtype = pd.CategoricalDtype(categories, ordered=bool(spec.get("ordered")))
    return pd.Series(pd.Categorical.from_codes(codes - 1, dtype=dtype))


def _decode_date(spec: Spec, data: memoryview, n: int, hint: Any) -> pd.Series:
    days = np.frombuffer(data, "<f8", n)
    missing = np.isnan(days)
    whole = np.floor(np.where(missing, 0, days)).astype(np.int64)
    dates = (whole.astype("timedelta64[D]") + EPOCH_DAY).astype(object)
    dates[missing] = None
    return pd.Series(dates, dtype=object)


def _decode_time(spec: Spec, data: memoryview, n: int, hint: Any) -> pd.Series:
    seconds = np.frombuffer(data, "<f8", n)
    missing = np.isnan(seconds)
    micros = np.round(np.where(missing, 0, seconds) * 1e6).astype(np.int64)
    stamps = micros.astype("datetime64[us]")
    stamps[missing] = np.datetime64("NaT")
    series = pd.Series(stamps)
    tz = spec.get("tz")
    if tz is not None:
        try:
            series = series.dt.tz_localize("UTC").dt.tz_convert(tz)
        except Exception:  # an R time zone name pandas does not know
            logger.warning("time zone %r from R is unknown here; the column is in UTC", tz)
            series = series.dt.tz_localize("UTC")
    if hint is not None and _same_zone(hint, series.dtype):
        return series.astype(hint)
    return series


def _same_zone(hint: Any, dtype: Any) -> bool:
    hint_tz = tz_name(getattr(hint, "tz", None))
    dtype_tz = tz_name(getattr(dtype, "tz", None))
    is_time = isinstance(hint, pd.DatetimeTZDtype) or getattr(hint, "kind", "") == "M"
    return is_time and hint_tz == dtype_tz


def _apply_hint(series: pd.Series, hint: ExtensionDtype | np.dtype[Any] | None,
                has_missing: bool) -> pd.Series:
    """``series`` as the hinted dtype when the values fit it (a numpy dtype holds no NA)."""
    if hint is None:
        return series
    if isinstance(hint, np.dtype) and hint.kind in "biu" and has_missing:
        return series
    try:
        converted = series.astype(hint)
    except (TypeError, ValueError, OverflowError):
        return series
    # astype wraps integers around silently: keep the wider type unless the values survive.
    if (isinstance(hint, np.dtype) and hint.kind in "iu"
            and not np.array_equal(converted.to_numpy(np.float64), series.to_numpy(np.float64))):
        return series
    return converted


_DECODERS = {
    "int": _decode_int,
    "lgl": _decode_lgl,
    "dbl": _decode_dbl,
    "chr": _decode_chr,
    "fct": _decode_fct,
    "date": _decode_date,
    "time": _decode_time,
}
