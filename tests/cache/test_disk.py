import datetime as dt
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner

from jupyter_blocks.cache import Cache, DiskStore, codec
from jupyter_blocks.cache.codec import JSON, PICKLE, encode
from jupyter_blocks.cli import cli
from jupyter_blocks.core.files import is_temporary


def taxi_like(n=50):
    return pd.DataFrame({
        "vendor_id": pd.array([1, None, 2] * (n // 3) + [1] * (n % 3), dtype="Int64"),
        "passengers": pd.array([1, 2, None] * (n // 3) + [1] * (n % 3), dtype="Int8"),
        "pickup": pd.date_range("2021-01-01", periods=n, freq="min", tz="America/New_York"),
        "dropoff": pd.date_range("2021-01-01", periods=n, freq="min"),
        "flag": pd.Categorical(["N", "Y"] * (n // 2) + ["N"] * (n % 2)),
        "zone": pd.array(["a", None] * (n // 2) + ["a"] * (n % 2), dtype="string"),
        "fare": np.linspace(0, 10, n),
        "paid": pd.array([True, False, None] * (n // 3) + [True] * (n % 3), dtype="boolean"),
        "day": [dt.date(2021, 1, 1 + i % 28) for i in range(n)],
    })


def test_dataframe_dtypes_round_trip_exactly(tmp_path):
    store = DiskStore(tmp_path)
    frame = taxi_like()
    store.put("k1", frame, block="load")
    found, back = store.get("k1")
    assert found
    pd.testing.assert_frame_equal(back, frame)
    assert dict(back.dtypes) == dict(frame.dtypes)
    assert encode(frame).kind == PICKLE


def big_frame(rows=200_000):
    rng = np.random.default_rng(1)
    frame = taxi_like(rows)
    frame["distance"] = rng.gamma(2.0, 1.5, rows)
    return frame


def _mapped(array) -> bool:
    """Whether ``array``'s memory is a view of a memory mapping (no copy was made)."""
    import mmap

    base = array
    while base is not None:
        if isinstance(base, memoryview) and isinstance(base.obj, mmap.mmap):
            return True
        base = getattr(base, "base", None) if not isinstance(base, memoryview) else base.obj
    return False


def test_a_large_frame_loads_without_a_copy_and_stays_writable(tmp_path):
    frame = big_frame()
    store = DiskStore(tmp_path)
    store.put("k", frame, block="load")
    header = store.path("k").read_bytes()[:2000]
    assert b'"buffers": [[' in header
    on_disk = store.path("k").read_bytes()
    found, back = DiskStore(tmp_path).get("k")
    assert found
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    assert dict(back.dtypes) == dict(frame.dtypes)
    assert _mapped(back["distance"].to_numpy()) and _mapped(back["fare"].to_numpy())
    assert _mapped(back["vendor_id"].array._mask)
    back.loc[0, "distance"] = -1.0  # writes go to this process's pages, not to the entry
    back.loc[1, "vendor_id"] = 7
    back["fare"] *= 2
    back.loc[2, "flag"] = "Y"
    assert back.loc[0, "distance"] == -1.0 and back.loc[1, "vendor_id"] == 7
    assert store.path("k").read_bytes() == on_disk
    pd.testing.assert_frame_equal(DiskStore(tmp_path).get("k")[1], frame, check_exact=True)


def test_a_large_array_loads_from_the_mapping_and_an_arrow_table_round_trips(tmp_path):
    store = DiskStore(tmp_path)
    array = np.arange(300_000, dtype="float64").reshape(1000, 300)
    store.put("a", {"weights": array, "note": "kept"})
    back = DiskStore(tmp_path).get("a")[1]
    assert back["note"] == "kept" and np.array_equal(back["weights"], array)
    assert _mapped(back["weights"]) and back["weights"].flags.writeable
    table = pa.table({"x": np.arange(400_000), "s": ["a", None] * 200_000})
    store.put("t", table)
    assert DiskStore(tmp_path).get("t")[1].equals(table)


def test_a_damaged_out_of_band_buffer_is_a_miss(tmp_path, caplog):
    store = DiskStore(tmp_path)
    store.put("k", big_frame())
    path = store.path("k")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        assert DiskStore(tmp_path).get("k") == (False, None)
    assert "checksum mismatch" in caplog.text and not path.exists()


def test_an_entry_pickled_under_other_library_versions_is_stale(tmp_path, caplog, monkeypatch):
    store = DiskStore(tmp_path)
    monkeypatch.setattr(pd, "__version__", "0.0.1")
    store.put("k", taxi_like())
    monkeypatch.undo()
    with caplog.at_level(logging.INFO, logger="jupyter_blocks.cache.disk"):
        assert store.get("k") == (False, None)
    assert "written under pandas 0.0.1" in caplog.text and "WARNING" not in caplog.text
    assert not store.path("k").exists()
    store.put("k", taxi_like())
    assert store.get("k")[0]


def test_entries_written_as_arrow_ipc_frames_still_load(tmp_path, monkeypatch):
    frame = taxi_like(30)
    ipc = codec._arrow_ipc(pa.Table.from_pandas(frame))
    store = DiskStore(tmp_path)
    monkeypatch.setattr(codec, "encode", lambda value: codec.Payload(codec.ARROW_DATAFRAME, [ipc]))
    store.put("old", frame)
    monkeypatch.undo()
    assert stored_header(store, "old")["kind"] == "arrow-pandas"
    pd.testing.assert_frame_equal(DiskStore(tmp_path).get("old")[1], frame)


def test_index_and_arrow_table_round_trip(tmp_path):
    store = DiskStore(tmp_path)
    frame = pd.DataFrame({"x": [1, 2]}, index=pd.Index(["a", "b"], name="key"))
    store.put("k", frame)
    pd.testing.assert_frame_equal(store.get("k")[1], frame)
    table = pa.table({"a": [1, 2], "b": ["x", None]})
    store.put("t", table)
    assert store.get("t")[1].equals(table)


@pytest.mark.parametrize("value, kind", [
    ({"a": [1, 2.5, None, "x"]}, JSON),
    ((1, 2), PICKLE),
    ({1: "int keys"}, PICKLE),
    (pd.DataFrame({1: [1], 2: [2]}), PICKLE),
    (pd.DataFrame([[1, 2]], columns=["a", "a"]), PICKLE),
    (float("nan"), PICKLE),
    ({"when": dt.datetime(2020, 1, 1)}, PICKLE),
])
def test_other_values_round_trip(tmp_path, value, kind):
    store = DiskStore(tmp_path)
    assert encode(value).kind == kind
    store.put("k", value)
    back = store.get("k")[1]
    if isinstance(value, pd.DataFrame):
        pd.testing.assert_frame_equal(back, value)
    elif isinstance(value, float):
        assert np.isnan(back)
    else:
        assert back == value and type(back) is type(value)


def stored_header(store, key):
    """The header of ``key``'s entry, a row or a file."""
    header = store.rows.header(key)
    if header is None:
        with store.path(key).open("rb") as handle:
            header = store._header(handle.read(12), handle)
    return header


def _damaged(data: bytes, damage: str) -> bytes:
    if damage == "truncate":
        return data[: len(data) // 2]
    if damage == "flip":
        flipped = bytearray(data)
        flipped[-200] ^= 0xFF
        return bytes(flipped)
    return b"not a cache entry at all" if damage == "garbage" else b""


def damage_entry(store, key, damage):
    """Damage ``key``'s stored bytes the way a disk or a stray write would."""
    if store.rows.header(key) is None:
        path = store.path(key)
        path.write_bytes(_damaged(path.read_bytes(), damage))
        return
    import sqlite3

    with sqlite3.connect(store.rows.path) as database:
        (payload,) = database.execute("SELECT payload FROM entries WHERE key = ?",
                                      (key,)).fetchone()
        database.execute("UPDATE entries SET payload = ? WHERE key = ?",
                         (_damaged(payload, damage), key))
        if damage == "garbage":
            database.execute("UPDATE entries SET header = 'not a header' WHERE key = ?", (key,))


@pytest.mark.parametrize("where", ["row", "file"])
@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_damaged_entry_is_a_miss_with_warning(tmp_path, caplog, damage, where):
    store = DiskStore(tmp_path)
    store.put("k", taxi_like(300) if where == "row" else big_frame(20_000))
    assert (store.rows.header("k") is not None) is (where == "row")
    damage_entry(store, "k", damage)
    with caplog.at_level(logging.WARNING):
        assert DiskStore(tmp_path).get("k") == (False, None)
    assert "will be recomputed" in caplog.text
    assert "k" not in DiskStore(tmp_path) and not store.path("k").exists()


@pytest.mark.parametrize("where", ["row", "file"])
@pytest.mark.parametrize("flip", [False, True])
def test_entries_checksummed_with_zlib_crc32_still_load_and_are_checked(tmp_path, flip, where,
                                                                        monkeypatch):
    from jupyter_blocks.cache import checksum

    monkeypatch.setattr(checksum, "for_new_entries", lambda: ("crc32", checksum.crc32))
    frame = taxi_like(300) if where == "row" else big_frame(20_000)
    DiskStore(tmp_path).put("k", frame)
    monkeypatch.undo()
    store = DiskStore(tmp_path)
    assert "crc32" in stored_header(store, "k") and "crc32c" not in stored_header(store, "k")
    if flip:
        damage_entry(store, "k", "flip")
    found, back = DiskStore(tmp_path).get("k")
    assert found is not flip
    if not flip:
        pd.testing.assert_frame_equal(back, frame)
    DiskStore(tmp_path).put("k", frame)
    assert "crc32c" in stored_header(DiskStore(tmp_path), "k")


def test_failed_write_leaves_no_entry_and_no_temp(tmp_path):
    store = DiskStore(tmp_path)

    class Unpicklable:
        def __reduce__(self):
            raise TypeError("cannot pickle this")

    with pytest.raises(TypeError):
        store.put("k", Unpicklable())
    assert list(tmp_path.iterdir()) == []


def _writer(root, value, rounds):
    store = DiskStore(root)
    for _ in range(rounds):
        store.put("same", value)


@pytest.mark.parametrize("rows", [20_000, 200])  # an entry file, a row
def test_concurrent_writers_leave_one_whole_entry(tmp_path, rows):
    a = pd.DataFrame({"x": np.arange(rows)})
    b = pd.DataFrame({"x": np.arange(rows) * 2})
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(tmp_path, v, 30)) for v in (a, b)]
    for p in procs:
        p.start()
    reads = 0
    store = DiskStore(tmp_path)
    while any(p.is_alive() for p in procs):
        found, value = store.get("same")
        if found:
            reads += 1
            assert value.equals(a) or value.equals(b)
    for p in procs:
        p.join()
        assert p.exitcode == 0
    found, value = store.get("same")
    assert found and (value.equals(a) or value.equals(b))
    assert [e.key for e in store.entries()] == ["same"]
    files = [p.name for p in tmp_path.iterdir() if not p.name.startswith("entries.sqlite")]
    assert files == (["same.jbc"] if rows == 20_000 else [])


def _used(store, key, when):
    """Mark ``key``'s entry last used at ``when``."""
    import sqlite3

    if store.rows.header(key) is None:
        os.utime(store.path(key), (when, when))
    else:
        with sqlite3.connect(store.rows.path) as database:
            database.execute("UPDATE entries SET used = ? WHERE key = ?", (when, key))


def test_lru_eviction_keeps_recently_used_rows_and_files(tmp_path):
    small, large = "x" * 1000, np.arange(20_000)
    probe = DiskStore(tmp_path / "probe")
    row_size, file_size = probe.put("r", small + "a"), probe.put("f", large)
    store = DiskStore(tmp_path / "cache", max_bytes=2 * row_size + file_size + 10)
    for i, (key, value) in enumerate([("a", small + "a"), ("big", large), ("b", small + "b")]):
        store.put(key, value)
        _used(store, key, time.time() - 100 + i)
    assert store.get("a")[0]  # a becomes most recently used
    store.put("d", small + "d")
    keys = {e.key for e in store.entries()}
    assert keys == {"a", "b", "d"} and not store.path("big").exists()
    assert sum(e.size for e in store.entries()) <= store.max_bytes
    _used(store, "b", time.time() - 200)
    store.put("big2", large + 1)
    assert {e.key for e in store.entries()} == {"a", "d", "big2"}


def test_entries_and_clear(tmp_path):
    cache = Cache.beside(tmp_path)
    cache.put("k1", taxi_like(30), block="load")
    cache.put("k2", [1, 2], block="other")
    infos = {e.key: e for e in cache.disk.entries()}
    assert infos["k1"].block == "load" and infos["k1"].rows == 30 and infos["k1"].cols == 9
    assert cache.clear() == 2
    assert cache.get("k1") is None and cache.disk.entries() == []
    assert (tmp_path / ".jupyter_blocks" / "cache").is_dir()


def test_memory_layer_serves_first_and_disk_promotes(tmp_path):
    cache = Cache.beside(tmp_path)
    cache.put("k", [1])
    assert cache.get("k").layer == "memory"
    fresh = Cache.beside(tmp_path)
    assert fresh.get("k").layer == "disk" and fresh.get("k").layer == "memory"


def test_entries_are_written_whole_from_several_buffers_and_keep_the_umask(tmp_path):
    import os
    import stat

    from jupyter_blocks.core.files import is_temporary, write_atomic

    target = tmp_path / "new" / "folder" / "entry.bin"
    parts = [b"head", memoryview(b"0123456789")[2:], bytearray(b""), b"tail" * 1000]
    write_atomic(target, parts)
    assert target.read_bytes() == b"head" + b"23456789" + b"tail" * 1000
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    write_atomic(target, b"again")
    assert target.read_bytes() == b"again"
    assert not [p for p in target.parent.iterdir() if is_temporary(p.name)]


def test_a_failed_write_leaves_the_old_entry_and_no_temporary_file(tmp_path):
    from jupyter_blocks.core.files import is_temporary, write_atomic

    target = tmp_path / "entry.bin"
    write_atomic(target, b"old")

    class Broken:
        def __buffer__(self, flags):
            raise OSError("disk full")

    with pytest.raises((OSError, TypeError)):
        write_atomic(target, [b"new", Broken()])
    assert target.read_bytes() == b"old"
    assert not [p for p in tmp_path.iterdir() if is_temporary(p.name)]


_HALF_WRITTEN = """
import os, sys, time
from jupyter_blocks.cache.disk import DiskStore
from jupyter_blocks.core import files

write_all = files._write_all

def stalled(handle, parts):
    write_all(handle, parts)  # every byte written, the rename not done yet
    print("writing", flush=True)
    time.sleep(600)

files._write_all = stalled
DiskStore(sys.argv[1]).put("big", b"x" * (4 * 1024 * 1024))
"""


def _killed_during_a_write(root: Path) -> list[Path]:
    """Start a process writing a 4 MiB entry into ``root``, kill -9 it mid-write."""
    process = subprocess.Popen([sys.executable, "-c", _HALF_WRITTEN, str(root)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline() == "writing\n"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    left = [path for path in root.iterdir() if is_temporary(path.name)]
    assert len(left) == 1 and not (root / "big.jbc").exists()
    return left


def test_cache_clear_removes_what_a_killed_writer_left(tmp_path):
    root = tmp_path / ".jupyter_blocks" / "cache"
    DiskStore(root).put("kept", [1, 2, 3])
    _killed_during_a_write(root)
    result = CliRunner().invoke(cli, ["cache", "clear", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "removed 1 cache entry and 1 unfinished write (4.0 MB)" in result.output
    assert not [path for path in root.iterdir() if path.suffix == ".jbc" or is_temporary(path.name)]
    assert DiskStore(root).entries() == []


def test_the_next_writer_sweeps_what_a_killed_writer_left(tmp_path):
    _killed_during_a_write(tmp_path)
    DiskStore(tmp_path).put("next", [1])
    assert not [path for path in tmp_path.iterdir() if is_temporary(path.name)]
    assert DiskStore(tmp_path).get("next") == (True, [1])


def test_a_live_writers_temporary_file_is_not_swept(tmp_path):
    from jupyter_blocks.core.files import remove_stale_temporaries, temporary_name

    live = tmp_path / temporary_name("entry.jbc")
    live.write_bytes(b"being written")
    foreign = tmp_path / ".entry.jbc.ffffff-1.0abc.tmp"  # another machine's writer
    foreign.write_bytes(b"")
    assert remove_stale_temporaries(tmp_path) == (0, 0)
    assert live.exists() and foreign.exists()
    day_ago = time.time() - 2 * 24 * 3600
    os.utime(foreign, (day_ago, day_ago))
    assert remove_stale_temporaries(tmp_path) == (1, 0)
    assert live.exists() and not foreign.exists()


def test_the_same_value_again_leaves_the_entry_file_in_place_and_a_new_one_replaces_it(tmp_path):
    store = DiskStore(tmp_path)
    frame = pd.DataFrame({"a": np.arange(20_000)})
    size = store.put("k", frame, block="clean")
    path = store.path("k")
    before = path.stat()
    os.utime(path, (before.st_atime - 60, before.st_mtime - 60))
    assert store.put("k", frame.copy(), block="clean") == size
    again = path.stat()
    assert again.st_ino == before.st_ino  # not written again
    assert again.st_mtime > before.st_mtime - 60  # but marked used, for the size bound
    store.put("k", frame + 1, block="clean")
    assert path.stat().st_ino != before.st_ino
    assert store.get("k")[1]["a"].iloc[-1] == 20_000
    with path.open("r+b") as handle:  # a damaged entry of the same facts is written again
        handle.seek(-1, os.SEEK_END)
        handle.truncate()
    store.put("k", frame + 1, block="clean")
    assert store.get("k")[1]["a"].iloc[-1] == 20_000


def test_the_same_small_value_again_leaves_the_row_in_place_and_a_new_one_replaces_it(tmp_path):
    from jupyter_blocks.cache.disk import TOUCH_AFTER

    store = DiskStore(tmp_path)
    frame = pd.DataFrame({"a": [1, 2, 3]})
    size = store.put("k", frame, block="clean")
    created = stored_header(store, "k")["created"]
    _used(store, "k", time.time() - 2 * TOUCH_AFTER)
    assert store.put("k", frame.copy(), block="clean") == size
    assert stored_header(store, "k")["created"] == created  # not written again
    assert store.entries()[0].used > time.time() - 30  # but marked used, for the size bound
    store.put("k", pd.DataFrame({"a": [1, 2, 4]}), block="clean")
    assert stored_header(store, "k")["created"] != created
    assert store.get("k")[1]["a"].tolist() == [1, 2, 4]
    damage_entry(store, "k", "truncate")  # a damaged row of the same facts is written again
    store.put("k", pd.DataFrame({"a": [1, 2, 4]}), block="clean")
    assert store.get("k")[1]["a"].tolist() == [1, 2, 4]


def test_a_row_used_a_moment_ago_is_read_and_rewritten_without_a_commit(tmp_path):
    from jupyter_blocks.cache.disk import TOUCH_AFTER

    store = DiskStore(tmp_path)
    store.put("k", [1, 2])
    database = store.rows._connection
    changes = database.total_changes
    assert store.get("k") == (True, [1, 2]) and store.put("k", [1, 2]) > 0
    assert database.total_changes == changes
    _used(store, "k", time.time() - 2 * TOUCH_AFTER)
    assert store.get("k") == (True, [1, 2])
    assert store.entries()[0].used > time.time() - 30


def test_a_key_moves_between_row_and_file_as_its_value_grows_and_shrinks(tmp_path):
    store = DiskStore(tmp_path)
    store.put("k", [1, 2])
    assert store.rows.header("k") is not None and not store.path("k").exists()
    store.put("k", np.arange(100_000))
    assert store.rows.header("k") is None and store.path("k").exists()
    assert DiskStore(tmp_path).get("k")[1][-1] == 99_999
    store.put("k", [3])
    assert not store.path("k").exists() and DiskStore(tmp_path).get("k") == (True, [3])
    assert [e.key for e in store.entries()] == ["k"]
    store.delete("k")
    assert "k" not in store and store.entries() == []
