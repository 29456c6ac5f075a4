"""Values from Python to the R worker: frames, vectors, scalars and the runtime variables.

What belongs here: :class:`Encoded` (the payload chunks of one request and the dtype of each
input column, for the way back), :func:`encode_input`, :func:`encode_variables`, and the wire
constants :mod:`._from_r` shares. The wire format is described at the top of ``worker.R``: each
vector is its raw little-endian values, so numbers cross without text conversion and R reads
them with one ``readBin`` each. The type mapping is in :mod:`jupyter_blocks.io.r`'s docstring.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from jupyter_blocks.io.r import ConversionError

logger = logging.getLogger(__name__)

#: R's NA_integer_ (and NA logical), so no 32-bit integer R holds is this.
INT_MIN = -(2**31)
#: R's NA_real_: a NaN whose low word is 1954.
NA_REAL_BITS = np.uint64(0x7FF00000000007A2)
#: The largest integer a double holds exactly; larger int64 values cannot go to R.
EXACT_DOUBLE = 2**53
EPOCH_DAY = np.datetime64("1970-01-01", "D")

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
        """Add a vector's payload ``chunks``; return its ``spec`` with their length in it."""
        spec["bytes"] = sum(len(chunk) for chunk in chunks)
        self.chunks.extend(chunks)
        return spec


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
        tz = tz_name(getattr(dtype, "tz", None))
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
            numbers = (days - EPOCH_DAY).astype(np.int64).astype(np.float64)
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


def tz_name(tz: Any) -> str | None:
    """The R name of a pandas time zone (``Europe/Paris``, ``UTC``), None for naive."""
    if tz is None:
        return None
    for attribute in ("key", "zone"):
        name = getattr(tz, attribute, None)
        if isinstance(name, str):
            return name
    if tz is dt.timezone.utc:
        return "UTC"
    return str(tz)
