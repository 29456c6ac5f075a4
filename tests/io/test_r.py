"""R blocks (jupyter_blocks.io.r) against a real R: types both ways, the function forms, variables,
printed output, errors with cell lines, timeouts, threads and spawned processes.

Without R these skip with how to install it (a failure under JUPYTER_BLOCKS_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from jupyter_blocks.core.errors import BlockSpecError, MissingDependencyError
from jupyter_blocks.io.r import (
    INSTALL_R,
    ConversionError,
    RBlockError,
    r_available,
    require_r,
    run_r_block,
)
from jupyter_blocks.runner.capture import OutputCapture, block_output
from tests.helpers.services import unavailable

LABEL = "block `clean_r` (cell 3)"


@pytest.fixture(scope="module")
def r() -> str:
    version = r_available()
    if version is None:
        unavailable("R", "apt-get install r-base-core")
    try:
        require_r()
    except MissingDependencyError:
        unavailable("the R package jsonlite", "apt-get install r-cran-jsonlite")
    return version


def run(source: str, inputs=(), variables=None, block_type="transformer", **options):
    return run_r_block(source, block_type, list(inputs), variables or {}, label=LABEL,
                       first_line=2, **options)


def every_dtype() -> pd.DataFrame:
    """One column per pandas dtype that crosses, each with a missing value where it can."""
    return pd.DataFrame({
        "nullable_int": pd.array([1, None, -3, 2**31 - 1], dtype="Int64"),
        "int": np.array([1, 2, -3, 4], dtype=np.int64),
        "wide_int": np.array([2**40, 1, -(2**40), 0], dtype=np.int64),
        "small_uint": np.array([0, 1, 254, 255], dtype=np.uint8),
        "float": [1.5, np.nan, -0.0, 1e300],
        "nullable_float": pd.arrays.FloatingArray(np.array([1.25, 0.0, np.nan, 3.0]),
                                                  np.array([False, True, False, False])),
        "float32": np.array([0.5, np.nan, 2.0, -1.0], dtype=np.float32),
        "text": pd.Series(["a", None, "é ü", ""]),
        "object_text": pd.Series(["x", "y", None, "naïve"], dtype=object),
        "string": pd.Series(["s", None, "t", "u"], dtype="string"),
        "bool": [True, False, True, False],
        "boolean": pd.array([True, None, False, True], dtype="boolean"),
        "date": pd.Series([dt.date(2020, 10, 1), None, dt.date(1969, 12, 31),
                           dt.date(2100, 2, 28)], dtype=object),
        "naive": pd.to_datetime(["2020-10-01 12:34:56.789012", None, "1969-12-31 23:59:59",
                                 "2038-01-19 03:14:08"], format="ISO8601").astype("datetime64[ns]"),
        "utc": pd.to_datetime(["2020-10-01 00:00", "2021-03-28 01:30", None,
                               "2000-01-01 00:00:00.000001"], format="ISO8601").tz_localize("UTC"),
        "paris": pd.to_datetime(["2021-03-28 00:30", None, "2021-10-31 00:30",
                                 "2021-10-31 01:30"]).tz_localize("UTC")
                   .tz_convert("Europe/Paris"),
        "category": pd.Categorical(["N", None, "Y", "N"], categories=["Y", "N", "unused"]),
        "ordered": pd.Categorical(["low", "high", "mid", None],
                                  categories=["low", "mid", "high"], ordered=True),
    })


# --- types ------------------------------------------------------------------------------------


def test_a_frame_of_every_dtype_round_trips_with_dtypes_and_values(r):
    frame = every_dtype()
    back = run("transform <- function(df_1, ...) {\n  df_1\n}\n", [frame])
    pd.testing.assert_frame_equal(back, frame)


def test_r_sees_each_column_as_the_matching_r_type(r):
    classes = run(
        "transform <- function(df_1, ...) {\n"
        "  vapply(df_1, function(x) paste(class(x), collapse = '/'), '')\n"
        "}\n", [every_dtype()])
    assert classes == {
        "nullable_int": "integer", "int": "integer", "wide_int": "numeric",
        "small_uint": "integer", "float": "numeric", "nullable_float": "numeric",
        "float32": "numeric", "text": "character", "object_text": "character",
        "string": "character", "bool": "logical", "boolean": "logical", "date": "Date",
        "naive": "POSIXct/POSIXt", "utc": "POSIXct/POSIXt", "paris": "POSIXct/POSIXt",
        "category": "factor", "ordered": "ordered/factor",
    }


def test_missing_values_time_zones_and_levels_as_r_sees_them(r):
    seen = run(
        "transform <- function(df_1, ...) {\n"
        "  list(\n"
        "    na_int = which(is.na(df_1$nullable_int)),\n"
        "    na_float = which(is.na(df_1$float)), nan_float = which(is.nan(df_1$float)),\n"
        "    na_nullable = which(is.na(df_1$nullable_float) & !is.nan(df_1$nullable_float)),\n"
        "    nan_nullable = which(is.nan(df_1$nullable_float)),\n"
        "    na_text = which(is.na(df_1$text)), na_bool = which(is.na(df_1$boolean)),\n"
        "    na_date = which(is.na(df_1$date)), na_naive = which(is.na(df_1$naive)),\n"
        "    first_date = format(df_1$date[1]), naive = format(df_1$naive[1], '%H:%M:%OS3'),\n"
        "    naive_tz = attr(df_1$naive, 'tzone'), utc_tz = attr(df_1$utc, 'tzone'),\n"
        "    paris = format(df_1$paris[1], '%Y-%m-%d %H:%M %Z'),\n"
        "    levels = levels(df_1$category), ordered = is.ordered(df_1$ordered),\n"
        "    text = df_1$text[3], wide = df_1$wide_int[1]\n"
        "  )\n"
        "}\n", [every_dtype()])
    assert seen["na_int"] == 2
    assert seen["na_float"] == 2  # pandas' NaN is missing data: R's NA
    assert seen["nan_float"] == []
    assert seen["na_nullable"] == 2 and seen["nan_nullable"] == 3  # Float64 keeps them apart
    assert seen["na_text"] == 2 and seen["na_bool"] == 2
    assert seen["na_date"] == 2 and seen["na_naive"] == 2
    assert seen["first_date"] == "2020-10-01"
    assert seen["naive"] == "12:34:56.789"
    assert seen["naive_tz"] is None
    assert seen["utc_tz"] == "UTC"
    assert seen["paris"] == "2021-03-28 01:30 CET"
    assert seen["levels"] == ["Y", "N", "unused"]
    assert seen["ordered"] is True
    assert seen["text"] == "é ü"
    assert seen["wide"] == 2.0**40


def test_columns_made_in_r_get_the_default_dtypes(r):
    frame = run(
        "transform <- function(df_1, ...) {\n"
        "  data.frame(\n"
        "    i = c(1L, NA), d = c(0.5, NA), l = c(TRUE, NA), s = c('a', NA),\n"
        "    day = as.Date(c('2020-10-01', NA)),\n"
        "    t = as.POSIXct(c('2020-10-01 08:00:00', NA)),\n"
        "    z = as.POSIXct(c('2020-10-01 08:00:00', NA), tz = 'America/New_York'),\n"
        "    f = factor(c('b', 'a'), levels = c('b', 'a')),\n"
        "    stringsAsFactors = FALSE\n"
        "  )\n"
        "}\n", [None])
    assert frame.dtypes.to_dict() == {
        "i": pd.Int64Dtype(), "d": np.dtype("float64"), "l": pd.BooleanDtype(),
        "s": pd.Series(["x"]).dtype, "day": np.dtype(object), "t": np.dtype("datetime64[us]"),
        "z": pd.DatetimeTZDtype("us", "America/New_York"),
        "f": pd.CategoricalDtype(["b", "a"]),
    }
    assert frame["i"].tolist() == [1, pd.NA]
    assert frame["day"].tolist() == [dt.date(2020, 10, 1), None]
    assert frame["t"][0] == pd.Timestamp("2020-10-01 08:00:00")
    assert frame["z"][0] == pd.Timestamp("2020-10-01 08:00:00", tz="America/New_York")
    assert isinstance(frame.index, pd.RangeIndex)


def test_a_filtered_frame_keeps_its_dtypes_and_gets_a_fresh_index(r):
    frame = every_dtype()
    back = run("transform <- function(df_1, ...) df_1[df_1$bool, c('int', 'text', 'bool')]",
               [frame])
    expected = frame.loc[frame["bool"], ["int", "text", "bool"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(back, expected)


def test_a_named_index_becomes_a_column_and_an_empty_frame_crosses(r):
    indexed = pd.DataFrame({"value": [1.0, 2.0]},
                           index=pd.Index(["a", "b"], name="key"))
    assert run("transform <- function(df_1, ...) names(df_1)", [indexed]) == ["key", "value"]
    empty = pd.DataFrame({"n": pd.Series([], dtype="Int64"), "s": pd.Series([], dtype=object)})
    pd.testing.assert_frame_equal(run("transform <- function(df_1, ...) df_1", [empty]), empty)


def test_values_other_than_frames(r):
    def value(expression: str):
        return run(f"load_data <- function() {expression}", block_type="data_loader")

    assert value("NULL") is None
    assert value("42L") == 42
    assert value("NA") is None
    assert value("c(1.5, NA)") == [1.5, None]
    nan = value("NaN")
    assert nan != nan
    assert value("c(a = 1L, b = 2L)") == {"a": 1, "b": 2}
    assert value("list(x = 'y', n = list(TRUE, NULL))") == {"x": "y", "n": [True, None]}
    assert value("as.Date('2020-10-01')") == dt.date(2020, 10, 1)
    assert value("as.POSIXct('2020-10-01 12:00', tz = 'UTC')") == dt.datetime(
        2020, 10, 1, 12, tzinfo=dt.timezone.utc)
    assert value("factor(c('a', 'b'))") == ["a", "b"]


def test_inputs_that_cannot_cross_name_the_column(r):
    with pytest.raises(ConversionError, match=r"df_1, column `gap`: dtype timedelta64"):
        run("transform <- function(df_1, ...) df_1", [pd.DataFrame({"gap": [pd.Timedelta(1)]})])
    with pytest.raises(ConversionError, match=r"df_2, column `huge`: integers beyond ±2\*\*53"):
        run("transform <- function(df_1, df_2, ...) df_1",
            [None, pd.DataFrame({"huge": [2**60]})])
    with pytest.raises(ConversionError, match=r"object column of decimal values"):
        from decimal import Decimal

        run("transform <- function(df_1, ...) df_1", [pd.DataFrame({"d": [Decimal(1)]})])


def test_a_return_value_that_cannot_come_back_is_a_block_error(r):
    with pytest.raises(RBlockError, match=r"return value of class `lm` cannot go back"):
        run("transform <- function(df_1, ...) lm(y ~ 1, data.frame(y = 1:3))", [None])


# --- function forms and variables -------------------------------------------------------------


def test_a_loader_takes_no_input(r):
    frame = run("load_data <- function() {\n  data.frame(x = 1:3)\n}\n",
                block_type="data_loader")
    pd.testing.assert_frame_equal(frame, pd.DataFrame({"x": pd.array([1, 2, 3], dtype="Int64")}))


def test_a_transformer_gets_its_upstreams_in_order(r):
    trips = pd.DataFrame({"zone": [1, 2, 2], "fare": [5.0, 7.5, 3.0]})
    zones = pd.DataFrame({"zone": [1, 2], "name": ["Harlem", "Astoria"]})
    joined = run(
        "transform <- function(df_1, df_2, ...) {\n"
        "  joined <- merge(df_1, df_2, by = 'zone')\n"
        "  joined[order(joined$fare), ]\n"
        "}\n", [trips, zones])
    assert joined.to_dict("list") == {"zone": [2, 1, 2], "fare": [3.0, 5.0, 7.5],
                                      "name": ["Astoria", "Harlem", "Astoria"]}
    assert joined["zone"].dtype == np.int64  # same name as an int64 input column


def test_an_exporter_runs_in_pythons_working_folder(r, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(
        "export_data <- function(df_1, ...) {\n"
        "  write.csv(df_1, 'out.csv', row.names = FALSE)\n"
        "  invisible(NULL)\n"
        "}\n", [pd.DataFrame({"a": [1, 2]})], block_type="data_exporter")
    assert result is None
    assert (tmp_path / "out.csv").read_text().splitlines() == ['"a"', "1", "2"]


def test_a_custom_block_defines_transform(r):
    assert run("transform <- function(df_1, ...) nrow(df_1)", [pd.DataFrame({"a": [1, 2]})],
               block_type="custom") == 2


def test_a_block_type_without_an_r_form_is_refused():
    with pytest.raises(BlockSpecError, match=r"R blocks are data loaders.*not sensor"):
        run("x <- 1", block_type="sensor")


def test_a_block_without_its_function_says_which_it_needs(r):
    with pytest.raises(RBlockError) as failure:
        run("load_data <- function() 1\nhelper <- function() 2\n")
    assert failure.value.message == (
        "Error: the block defines no function `transform` (transformer blocks define "
        "transform <- function(df_1, ...) {...}); functions defined: `helper`, `load_data`")


def test_variables_arrive_as_named_arguments(r):
    variables = {
        "execution_date": dt.datetime(2020, 10, 1, 6, 30),
        "interval_end_datetime": dt.datetime(2020, 10, 2, tzinfo=dt.timezone.utc),
        "ds": "2020-10-01", "day": dt.date(2020, 10, 1), "limit": 10, "ratio": 0.5,
        "dry_run": True, "nothing": None, "zones": [1, 2, 3], "options": {"mode": "fast"},
        "logger": logging.getLogger("etl"),
    }
    seen = run(
        "transform <- function(df_1, ...) {\n"
        "  v <- list(...)\n"
        "  list(names = names(v), when = format(v$execution_date, '%Y-%m-%d %H:%M'),\n"
        "       end_tz = attr(v$interval_end_datetime, 'tzone'), ds = v$ds,\n"
        "       day = class(v$day), limit = class(v$limit), ratio = v$ratio,\n"
        "       dry_run = v$dry_run, has_nothing = 'nothing' %in% names(v),\n"
        "       zones = class(v$zones), mode = v$options$mode)\n"
        "}\n", [None], variables)
    assert seen["names"] == [name for name in variables if name != "logger"]
    assert seen["when"] == "2020-10-01 06:30"
    assert seen["end_tz"] == "UTC"
    assert seen["ds"] == "2020-10-01"
    assert seen["day"] == "Date"
    assert seen["limit"] == "integer"
    assert seen["ratio"] == 0.5
    assert seen["dry_run"] is True
    assert seen["has_nothing"] is True
    assert seen["zones"] == "integer"
    assert seen["mode"] == "fast"


def test_a_function_without_dots_gets_only_the_variables_it_names(r):
    assert run("transform <- function(df_1, limit) df_1 * limit", [3],
               {"limit": 2, "ds": "2020-10-01"}) == 6


def test_a_variable_named_like_a_prefix_of_df_1_does_not_take_its_place(r):
    # R would match `d = ...` to the formal df_1 by partial matching.
    assert run("transform <- function(df_1, ...) df_1", [7], {"d": 1, "df": 2}) == 7


def test_each_call_starts_from_a_fresh_environment(r):
    run("leftover <- 1\ntransform <- function(df_1, ...) NULL", [None])
    assert run("transform <- function(df_1, ...) exists('leftover')", [None]) is False


# --- output -----------------------------------------------------------------------------------


def test_printed_output_goes_to_sys_stdout_and_stderr(r, capsys):
    run(
        "transform <- function(df_1, ...) {\n"
        "  print(nrow(df_1))\n"
        "  cat('done\\n')\n"
        "  message('a message')\n"
        "  warning('a warning')\n"
        "  df_1\n"
        "}\n", [pd.DataFrame({"a": [1, 2]})])
    captured = capsys.readouterr()
    assert captured.out == "[1] 2\ndone\n"
    assert "a message" in captured.err
    assert "Warning in transform(df_1) : a warning" in captured.err


def test_a_sink_left_open_does_not_hide_the_next_blocks_output(r, capsys):
    assert run("transform <- function(df_1, ...) { sink(tempfile()); print('hidden'); 1L }",
               [None]) == 1
    run("transform <- function(df_1, ...) print('shown')", [None])
    assert capsys.readouterr().out == '[1] "shown"\n'


def test_output_of_r_blocks_in_threads_is_filed_under_each_block(r, monkeypatch):
    monkeypatch.setattr(sys, "stdout", sys.stdout)
    monkeypatch.setattr(sys, "stderr", sys.stderr)
    capture = OutputCapture(echo=False)
    for block in ("a", "b"):
        capture(SimpleNamespace(event="block_started", block=block))

    def block(name: str) -> None:
        with block_output(name):
            run(f"transform <- function(df_1, ...) {{\n"
                f"  for (i in 1:3) {{ cat('{name}', i, '\\n'); Sys.sleep(0.05) }}\n"
                f"  message('{name} is done')\n"
                f"}}\n", [None])

    threads = [threading.Thread(target=block, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name in ("a", "b"):
        capture(SimpleNamespace(event="block_finished", block=name, output=None))
    capture(SimpleNamespace(event="run_finished", block=None))
    assert capture.take("a") == "a 1 \na 2 \na 3 \na is done\n"
    assert capture.take("b") == "b 1 \nb 2 \nb 3 \nb is done\n"


# --- errors -----------------------------------------------------------------------------------


def test_an_r_error_names_the_call_and_the_cell_line(r):
    source = (
        "library(stats)\n"
        "\n"
        "transform <- function(df_1, ...) {\n"
        "  df_1$passengers <- pasenger_count + 1\n"
        "  df_1\n"
        "}\n"
    )
    with pytest.raises(RBlockError) as failure:
        run(source, [pd.DataFrame({"passenger_count": [1]})])
    error = failure.value
    # The body starts on the cell's line 2 (under %%block), so R's line 4 is the cell's line 5.
    assert error.message == (
        "Error in transform(df_1): object 'pasenger_count' not found (line 5)")
    assert str(error) == error.message
    assert error.line == 5
    assert error.traceback == (
        f"R traceback of {LABEL} (most recent call last):\n"
        "  transform(df_1) at line 5\n"
        "Error in transform(df_1): object 'pasenger_count' not found (line 5)\n")
    # With runtime variables the call shows them as R's `...`.
    with pytest.raises(RBlockError) as failure:
        run(source, [pd.DataFrame({"passenger_count": [1]})], {"ds": "2020-10-01"})
    assert failure.value.message == (
        "Error in transform(df_1, ...): object 'pasenger_count' not found (line 5)")


def test_the_traceback_lists_the_calls_with_their_cell_lines(r):
    source = (
        "check <- function(d) {\n"
        "  if (nrow(d) < 5) stop('only ', nrow(d), ' rows')\n"
        "  d\n"
        "}\n"
        "transform <- function(df_1, ...) {\n"
        "  cleaned <- df_1\n"
        "  check(cleaned)\n"
        "}\n"
    )
    with pytest.raises(RBlockError) as failure:
        run(source, [pd.DataFrame({"a": [1, 2]})])
    error = failure.value
    assert error.message == "Error in check(cleaned): only 2 rows (line 3)"
    assert error.line == 3
    lines = error.traceback.splitlines()
    assert lines[1:3] == ["  transform(df_1) at line 8", "  check(cleaned) at line 3"]
    assert lines[-1] == error.message


def test_an_error_in_top_level_code_and_a_syntax_error_have_lines(r):
    with pytest.raises(RBlockError) as failure:
        run("x <- 1\nlibrary(no.such.package)\ntransform <- function(df_1, ...) df_1\n")
    assert failure.value.message.startswith("Error in library(no.such.package): there is no "
                                            "package called")
    assert failure.value.line == 3
    assert "  (top level) at line 3" in failure.value.traceback
    with pytest.raises(RBlockError) as failure:
        run("transform <- function(df_1, ...) {\n  x <- )\n}\n")
    assert failure.value.message == "Syntax error: unexpected ')' (line 3)"
    assert failure.value.line == 3


def test_an_r_block_error_pickles_with_its_facts(r):
    with pytest.raises(RBlockError) as failure:
        run("transform <- function(df_1, ...) stop('boom')", [None])
    copy = pickle.loads(pickle.dumps(failure.value))
    assert (copy.message, copy.line, copy.traceback) == (
        failure.value.message, failure.value.line, failure.value.traceback)
    assert copy.message == "Error in transform(df_1): boom (line 2)"


def worker_pid() -> int:
    pid: int = run("transform <- function(df_1, ...) Sys.getpid()", [None])
    return pid


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_timeout_stops_the_r_process_and_the_next_call_works(r):
    pid = worker_pid()
    started = time.monotonic()
    with pytest.raises(RBlockError, match=r"R did not finish within 1s; the R process was stopped"):
        run("transform <- function(df_1, ...) Sys.sleep(60)", [None], timeout=1)
    assert time.monotonic() - started < 30
    assert gone(pid)
    assert run("transform <- function(df_1, ...) 1L", [None]) == 1


def test_an_interrupt_stops_the_r_process(r):
    pid = worker_pid()

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with pytest.raises(KeyboardInterrupt):
            run("transform <- function(df_1, ...) Sys.sleep(60)", [None])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert gone(pid)
    assert worker_pid() != pid


def test_r_exiting_is_a_block_error_and_the_next_call_works(r):
    with pytest.raises(RBlockError, match=r"R exited \(status 3\) while running the block"):
        run("transform <- function(df_1, ...) quit(status = 3)", [None])
    assert run("transform <- function(df_1, ...) 2L", [None]) == 2


# --- where blocks run -------------------------------------------------------------------------


def test_blocks_run_in_threads_at_once(r):
    source = "transform <- function(df_1, ...) {{ Sys.sleep(0.2); df_1 * {k} }}"
    with cf.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda k: run(source.format(k=k), [10]), range(4)))
    assert results == [0, 10, 20, 30]


def run_in_spawned_process(frame: pd.DataFrame) -> pd.DataFrame:
    return run_r_block("transform <- function(df_1, ...) df_1", "transformer", [frame], {},
                       label=LABEL, first_line=2)


def test_a_block_runs_in_a_spawned_worker_process(r):
    frame = every_dtype()
    with cf.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        back = pool.submit(run_in_spawned_process, frame).result(timeout=120)
    pd.testing.assert_frame_equal(back, frame)


# --- without R --------------------------------------------------------------------------------


def test_without_r_require_r_says_how_to_install_it(monkeypatch):
    monkeypatch.setenv("JUPYTER_BLOCKS_RSCRIPT", "/nonexistent/Rscript")
    assert r_available() is None
    with pytest.raises(MissingDependencyError) as failure:
        require_r()
    assert str(failure.value) == INSTALL_R
    assert str(failure.value) == (
        "R is not installed: apt-get install r-base-core (Debian) or see "
        "https://cran.r-project.org")
    with pytest.raises(MissingDependencyError):
        run("transform <- function(df_1, ...) df_1", [None])


def test_r_available_names_the_version_and_the_executable(r):
    assert r.startswith("R version ") and "Rscript" in r
