import logging

import pandas as pd

from jupyter_blocks.cache import DiskStore
from jupyter_blocks.cache.rows import DATABASE


def test_reading_a_folder_without_entries_creates_nothing(tmp_path):
    store = DiskStore(tmp_path / "cache")
    assert store.get("k") == (False, None) and "k" not in store and store.entries() == []
    store.delete("k")
    assert not (tmp_path / "cache").exists()


def test_small_entries_are_rows_of_one_database_and_need_no_file(tmp_path):
    store = DiskStore(tmp_path)
    for i in range(50):
        store.put(f"k{i}", {"block": i}, block=f"b{i}")
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(DATABASE)) == []
    fresh = DiskStore(tmp_path)
    assert [fresh.get(f"k{i}")[1] for i in range(50)] == [{"block": i} for i in range(50)]
    info = {e.key: e for e in fresh.entries()}
    assert info["k7"].block == "b7" and info["k7"].kind == "json" and info["k7"].type == "dict"
    assert info["k7"].size > 0


def test_a_damaged_database_is_set_aside_with_a_warning_and_the_cache_goes_on(tmp_path, caplog):
    DiskStore(tmp_path).put("k", [1, 2, 3])
    for suffix in ("-wal", "-shm"):
        (tmp_path / (DATABASE + suffix)).unlink(missing_ok=True)
    (tmp_path / DATABASE).write_bytes(b"this is not a database, " * 200)
    store = DiskStore(tmp_path)
    with caplog.at_level(logging.WARNING):
        assert store.get("k") == (False, None)
    assert "unreadable" in caplog.text and "recomputed" in caplog.text
    store.put("k", pd.DataFrame({"a": [1]}))
    assert DiskStore(tmp_path).get("k")[1]["a"].tolist() == [1]


def test_rows_written_after_the_cache_folder_was_deleted_reach_a_new_database(tmp_path):
    import shutil

    root = tmp_path / "cache"
    store = DiskStore(root)
    store.put("old", [1])
    shutil.rmtree(root)
    assert store.get("old") == (False, None) and store.entries() == []
    store.put("new", [2])
    assert DiskStore(root).get("new") == (True, [2])
