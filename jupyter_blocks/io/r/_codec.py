"""Values between Python and the R worker: pandas frames, vectors and variables, both ways.

What belongs here: :func:`encode` (Python value → a JSON header and payload bytes that
``worker.R`` decodes) and :func:`decode` (the worker's answer → a Python value), with the type
mapping of ``jupyter_blocks.io.r``'s docstring. The wire format is described at the top of
``worker.R``: each vector is its raw little-endian values, so numbers cross without text
conversion and R reads them with one ``readBin`` each.

Going back, a column takes the pandas dtype of the input column of the same name when that column
went to R as the same kind of vector and its values fit it (an identity block returns an equal
frame: ``int64`` stays ``int64``, ``bool`` stays ``bool``, an ``object`` column of strings stays
``object``); otherwise the kind's default dtype applies.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from jupyter_blocks.io.r import ConversionError

if TYPE_CHECKING:
    from pandas.api.extensions import ExtensionDtype

logger = logging.getLogger(__name__)

INT_MIN = -(2**31)
#: R's NA_real_: a NaN whose low word is 1954.
NA_REAL_BITS = np.uint64(0x7FF00000000007A2)
_LOW_WORD = np.uint64(0xFFFFFFFF)
_NA_REAL_LOW = np.uint64(1954)
#: The largest integer a double holds exactly; larger int64 values cannot go to R.
EXACT_DOUBLE = 2**53
_EPOCH_DAY = np.datetime64("1970-01-01", "D")

Spec = dict[str, Any]


@dataclass
class Encoded:
    """A request's values: JSON-able headers, the payload chunks they describe, dtype hints.

    Attributes:
        chunks: Payload bytes, in the order the headers list the vectors.
        hints: Per column name, the pandas dtype and vector kind of the first input column of
            that name (what a returned column of that name converts back to).
    """

    chunks: list[bytes] = field(default_factory=list)
    hints: dict[str, tuple[Any, str]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Total payload length in bytes."""
        return sum(len(chunk) for chunk in self.chunks)

    def vector(self, spec: Spec, *chunks: bytes) -> Spec:
        spec["bytes"] = sum(len(chunk) for chunk in chunks)
        self.chunks.extend(chunks)
        return spec


# --- Python → R -------------------------------------------------------------------------------


def encode_input(value: Any, encoded: Encoded, where: str) -> Spec:
    """Encode an upstream output for R (a frame, a series or array, a scalar, a list or dict)."""
    if value is None:
        return {"k": "null"}
    if isinstance(value, pd.DataFrame):
        return _encode_frame(value, encoded, where)
    if isinstance(value, pd.Series | pd.Index | np.ndarray):
        series = pd.Series(np.asarray(value) if isinstance(value, np.ndarray) else value)
        if series.ndim != 1:
            raise ConversionError(f"{where}: only 1-dimensional arrays can go to R")
        return {"k": "vec", "v": _encode_series(series.reset_index(drop=True), encoded, where)}
    scalar = _encode_scalar(value, encoded)
    if scalar is not None:
        return scalar
    if isinstance(value, list | tuple | dict):
        try:
            return {"k": "json", "text": json.dumps(value, default=_json_default)}
        except (TypeError, ValueError) as exc:
            raise ConversionError(f"{where}: {exc}") from None
    raise ConversionError(
        f"{where}: a value of type {type(value).__name__} cannot go to R; pass a DataFrame, "
        "a Series, a scalar, or a list or dict of JSON values"
    )


def encode_variables(variables: Mapping[str, Any], encoded: Encoded) -> Spec:
    """Encode the runtime variables R can use as a named list; others are left out.

    Strings, numbers, booleans, None, dates and datetimes cross as R scalars; lists and dicts of
    JSON values through ``jsonlite::fromJSON``. Anything else (the logger, a connection) stays in
    Python.
    """
    names: list[str] = []
    items: list[Spec] = []
    for name, value in variables.items():
        if value is None:
            spec: Spec | None = {"k": "null"}
        else:
            spec = _encode_scalar(value, encoded)
        if spec is None and isinstance(value, list | tuple | dict):
            try:
                spec = {"k": "json", "text": json.dumps(value, default=_json_default)}
            except (TypeError, ValueError):
                spec = None
        if spec is None:
            logger.debug("variable %s (%s) is not passed to R", name, type(value).__name__)
            continue
        names.append(str(name))
        items.append(spec)
    return {"k": "list", "names": names, "items": items}


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"a value of type {type(value).__name__} is not JSON")


def _encode_scalar(value: Any, encoded: Encoded) -> Spec | None:
    """A scalar as a length-1 vector, or None when ``value`` is no scalar R knows."""
    if isinstance(value, np.generic) and not isinstance(value, np.datetime64):
        value = value.item()
    if isinstance(value, bool):
        return {"k": "vec", "v": encoded.vector({"t": "lgl", "n": 1},
                                                np.array([value], "<i4").tobytes())}
    if isinstance(value, int):
        if INT_MIN < value < 2**31:
            return {"k": "vec", "v": encoded.vector({"t": "int", "n": 1},
                                                    np.array([value], "<i4").tobytes())}
        value = float(value)
    if isinstance(value, float):
        return {"k": "vec", "v": encoded.vector({"t": "dbl", "n": 1},
                                                np.array([value], "<f8").tobytes())}
    if isinstance(value, str):
        return {"k": "vec", "v": _encode_series(pd.Series([value], dtype=object), encoded, "")}
    if isinstance(value, dt.datetime | np.datetime64):
        stamp = pd.Timestamp(value)
        series = pd.Series([stamp])
        return {"k": "vec", "v": _encode_series(series, encoded, "")}
    if isinstance(value, dt.date):
        return {"k": "vec", "v": _encode_series(pd.Series([value], dtype=object), encoded, "")}
    return None


def _encode_frame(frame: pd.DataFrame, encoded: Encoded, where: str) -> Spec:
    named_levels = [name for name in frame.index.names if name is not None]
    if named_levels:
        # A named index is data (set_index("day")); R has no place for it but a column.
        frame = frame.reset_index(level=named_levels)
    columns: list[Spec] = []
    for position in range(frame.shape[1]):
        name = str(frame.columns[position])
        series = frame.iloc[:, position].reset_index(drop=True)
        spec = _encode_series(series, encoded, f"{where}, column `{name}`")
        encoded.hints.setdefault(name, (series.dtype, spec["t"]))
        columns.append({"name": name, "v": spec})
    return {"k": "frame", "nrow": len(frame), "cols": columns}


def _encode_series(series: pd.Series, encoded: Encoded, where: str) -> Spec:
    dtype = series.dtype
    n = len(series)
    if isinstance(dtype, pd.CategoricalDtype):
        levels = [str(category) for category in dtype.categories]
        if len(set(levels)) != len(levels):
            raise ConversionError(f"{where}: categories are not unique as text: {levels}")
        codes = series.cat.codes.to_numpy(np.int64) + 1
        codes[codes == 0] = INT_MIN
        spec = {"t": "fct", "n": n, "levels": levels, "ordered": bool(dtype.ordered)}
        return encoded.vector(spec, codes.astype("<i4").tobytes())
    if pd.api.types.is_bool_dtype(dtype):
        missing = series.isna().to_numpy(bool)
        values = series.to_numpy(np.int32, na_value=0)
        values[missing] = INT_MIN
        return encoded.vector({"t": "lgl", "n": n}, values.astype("<i4").tobytes())
    if pd.api.types.is_integer_dtype(dtype):
        missing = series.isna().to_numpy(bool)
        values = series.to_numpy(np.float64 if dtype.kind == "u" and dtype.itemsize == 8
                                 else np.int64, na_value=0)
        present = values[~missing]
        if present.size == 0 or (present.min() > INT_MIN and present.max() < 2**31):
            as_int = values.astype(np.int64)
            as_int[missing] = INT_MIN
            return encoded.vector({"t": "int", "n": n}, as_int.astype("<i4").tobytes())
        if np.abs(present.astype(np.float64)).max() > EXACT_DOUBLE:
            raise ConversionError(
                f"{where}: integers beyond ±2**53 have no exact R type (R integers are 32-bit, "
                "doubles hold 53 bits); convert the column to float or str first"
            )
        doubles = values.astype(np.float64)
        return encoded.vector({"t": "dbl", "n": n}, _with_na_real(doubles, missing))
    if pd.api.types.is_float_dtype(dtype):
        missing = series.isna().to_numpy(bool)
        doubles = series.to_numpy(np.float64, na_value=np.nan)
        return encoded.vector({"t": "dbl", "n": n}, _with_na_real(doubles, missing))
    if isinstance(dtype, pd.DatetimeTZDtype) or (
        isinstance(dtype, np.dtype) and dtype.kind == "M"
    ):
        tz = _tz_name(getattr(dtype, "tz", None))
        missing = series.isna().to_numpy(bool)
        if tz is not None:
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        micros = series.to_numpy("datetime64[us]")
        seconds = micros.astype(np.int64).astype(np.float64) / 1e6
        return encoded.vector({"t": "time", "n": n, "tz": tz}, _with_na_real(seconds, missing))
    if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
        kind = pd.api.types.infer_dtype(series, skipna=True)
        if kind in {"string", "empty"}:
            return _encode_strings(series, encoded)
        if kind == "date":
            missing = series.isna().to_numpy(bool)
            days = pd.to_datetime(series).to_numpy("datetime64[D]")
            numbers = (days - _EPOCH_DAY).astype(np.int64).astype(np.float64)
            return encoded.vector({"t": "date", "n": n}, _with_na_real(numbers, missing))
        if kind == "boolean":
            return _encode_series(series.astype("boolean"), encoded, where)
        if kind == "datetime":
            return _encode_series(pd.to_datetime(series), encoded, where)
        raise ConversionError(
            f"{where}: an object column of {kind} values cannot go to R; R takes strings, "
            "datetime.date objects, booleans or datetimes there (convert it with .astype(...))"
        )
    raise ConversionError(
        f"{where}: dtype {dtype} cannot go to R; R takes integers, floats, booleans, strings, "
        "dates, datetimes (naive or with a time zone) and categoricals"
    )


def _encode_strings(series: pd.Series, encoded: Encoded) -> Spec:
    missing = series.isna().to_numpy(bool)
    values = series.to_numpy(object, na_value="")
    text = "\0".join(values)
    if "\0" in text and text.count("\0") != len(values) - 1:
        raise ConversionError("strings with NUL characters cannot go to R")
    data = text.encode("utf-8") + (b"\0" if len(values) else b"")
    if missing.any():
        return encoded.vector({"t": "chr", "n": len(values), "mask": True}, data,
                              missing.astype(np.uint8).tobytes())
    return encoded.vector({"t": "chr", "n": len(values), "mask": False}, data)


def _with_na_real(values: np.ndarray, missing: np.ndarray) -> bytes:
    """``values`` as little-endian doubles, with R's NA where ``missing`` (NaN stays NaN)."""
    bits = np.ascontiguousarray(values, dtype="<f8").view("<u8").copy()
    bits[missing] = NA_REAL_BITS
    return bytes(bits.tobytes())


def _tz_name(tz: Any) -> str | None:
    if tz is None:
        return None
    for attribute in ("key", "zone"):
        name = getattr(tz, attribute, None)
        if isinstance(name, str):
            return name
    if tz is dt.timezone.utc:
        return "UTC"
    return str(tz)


# --- R → Python -------------------------------------------------------------------------------


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
    dates = (whole.astype("timedelta64[D]") + _EPOCH_DAY).astype(object)
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
    hint_tz = _tz_name(getattr(hint, "tz", None))
    dtype_tz = _tz_name(getattr(dtype, "tz", None))
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
