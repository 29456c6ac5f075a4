from __future__ import annotations

import base64
import datetime as dt
import json
import os
import time

import pandas as pd
import pytest

from jupyter_blocks.core.errors import ConfigError, ConnectorError
from jupyter_blocks.io import GoogleCloudStorage

pytestmark = pytest.mark.gcs


def trips(days: int = 3, per_day: int = 4, first: int = 1) -> pd.DataFrame:
    rows = [
        {
            "lpep_pickup_date": dt.date(2020, 10, first + d),
            "trip": d * 100 + i,
            "fare": float(i),
            "vendor": pd.NA if i == 0 else "V",
        }
        for d in range(days)
        for i in range(per_day)
    ]
    frame = pd.DataFrame(rows)
    frame["trip"] = frame["trip"].astype("Int64")
    return frame


def objects_under(gcs: GoogleCloudStorage, uri: str) -> list[str]:
    bucket, _, prefix = uri[len("gs://") :].partition("/")
    return sorted(blob.name for blob in gcs.client.list_blobs(bucket, prefix=prefix + "/"))


def test_single_object_round_trip(gcs, gcs_prefix):
    frame = trips()
    assert gcs.export(frame, f"{gcs_prefix}/trips.parquet") == [f"{gcs_prefix}/trips.parquet"]
    back = gcs.load(f"{gcs_prefix}/trips.parquet")
    pd.testing.assert_frame_equal(back, frame)


def test_csv_object_by_extension(gcs, gcs_prefix):
    gcs.export(pd.DataFrame({"a": [1, 2]}), f"{gcs_prefix}/small.csv")
    assert gcs.load(f"{gcs_prefix}/small.csv")["a"].tolist() == [1, 2]


def test_partitioned_export_writes_one_file_per_partition_and_reads_back(gcs, gcs_prefix):
    frame = trips(days=3)
    written = gcs.export(frame, gcs_prefix, partition_cols=["lpep_pickup_date"])
    assert len(written) == 3
    names = objects_under(gcs, gcs_prefix)
    prefix = gcs_prefix.split("/", 3)[3]
    assert names == [f"{prefix}/lpep_pickup_date=2020-10-0{d}/part-0000.parquet" for d in (1, 2, 3)]
    back = gcs.load(gcs_prefix).sort_values("trip").reset_index(drop=True)
    assert back["lpep_pickup_date"].tolist() == frame["lpep_pickup_date"].tolist()
    pd.testing.assert_frame_equal(
        back[["trip", "fare", "vendor"]], frame[["trip", "fare", "vendor"]]
    )


def test_re_export_replaces_written_partitions_and_keeps_the_others(gcs, gcs_prefix):
    gcs.export(trips(days=3), gcs_prefix, partition_cols=["lpep_pickup_date"])
    before = objects_under(gcs, gcs_prefix)
    # a stray file left by another writer in a partition we are about to rewrite
    bucket = gcs.client.bucket(gcs_prefix.split("/")[2])
    stray = f"{gcs_prefix.split('/', 3)[3]}/lpep_pickup_date=2020-10-02/other-writer.parquet"
    bucket.blob(stray).upload_from_string(b"junk")
    gcs.export(trips(days=2, per_day=1, first=2), gcs_prefix, partition_cols=["lpep_pickup_date"],
               mode="replace_partitions")
    assert objects_under(gcs, gcs_prefix) == before  # same files, no pile-up, stray gone
    back = gcs.load(gcs_prefix)
    counts = back.groupby("lpep_pickup_date").size().to_dict()
    assert counts == {dt.date(2020, 10, 1): 4, dt.date(2020, 10, 2): 1, dt.date(2020, 10, 3): 1}


def test_two_partition_columns_and_awkward_values(gcs, gcs_prefix):
    frame = pd.DataFrame(
        {
            "city": ["a/b", "a/b", "c=d", None],
            "year": [2020, 2021, 2020, 2020],
            "value": [1, 2, 3, 4],
        }
    )
    gcs.export(frame, gcs_prefix, partition_cols=["city", "year"])
    back = gcs.load(gcs_prefix).sort_values("value").reset_index(drop=True)
    assert back["value"].tolist() == [1, 2, 3, 4]
    assert back["city"].tolist()[:3] == ["a/b", "a/b", "c=d"]
    assert back["city"].isna().tolist() == [False, False, False, True]
    assert back["year"].tolist() == [2020, 2021, 2020, 2020]


def test_errors(gcs, gcs_prefix):
    with pytest.raises(ConnectorError, match="no object or dataset"):
        gcs.load(f"{gcs_prefix}/missing")
    with pytest.raises(ConfigError, match="gs://"):
        gcs.export(trips(), "s3://bucket/x.parquet")
    with pytest.raises(ConfigError, match="no column 'nope'"):
        gcs.export(trips(), gcs_prefix, partition_cols=["nope"])
    with pytest.raises(ConnectorError, match="export to gs://no-such-bucket-here"):
        gcs.export(trips(), "gs://no-such-bucket-here/x.parquet")


def test_with_config_reads_the_endpoint(tmp_path, gcs_emulator, gcs_prefix, clean_env):
    (tmp_path / "io_config.yaml").write_text(
        f"dev:\n  GCS_ENDPOINT: {gcs_emulator.endpoint}\n  GOOGLE_PROJECT_ID: demo\n"
    )
    connector = GoogleCloudStorage.with_config("dev", directory=tmp_path)
    assert connector.endpoint == gcs_emulator.endpoint
    connector.export(pd.DataFrame({"a": [1]}), f"{gcs_prefix}/a.parquet")
    assert connector.load(f"{gcs_prefix}/a.parquet")["a"].tolist() == [1]


class _FlakyStorage:
    """A loopback HTTP endpoint that answers uploads with scripted statuses and CRC32C values."""

    def __init__(self, replies: list[tuple[int, str | None]]) -> None:
        import http.server
        import threading

        self.replies = list(replies)
        self.requests: list[tuple[str, bytes]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((self.path, body))
                status, crc = outer.replies.pop(0)
                payload = json.dumps({"name": "x", **({"crc32c": crc} if crc else {})}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _crc32c(data: bytes) -> str:
    import google_crc32c

    return base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()


@pytest.mark.parametrize("status", [503, 429])
def test_uploads_retry_transient_errors_and_check_the_stored_crc32c(status):
    payload = pa_bytes()
    storage = _FlakyStorage([(status, None), (200, _crc32c(payload))])
    try:
        store = GoogleCloudStorage(endpoint=storage.endpoint)._store("bucket")
        store.put("dir/a b.parquet", payload)
    finally:
        storage.close()
    assert [body for _, body in storage.requests] == [payload, payload]
    path = storage.requests[-1][0]
    assert path == "/upload/storage/v1/b/bucket/o?uploadType=media&name=dir%2Fa%20b.parquet"


def test_an_upload_stored_with_another_crc32c_is_an_error():
    storage = _FlakyStorage([(200, _crc32c(b"something else"))])
    try:
        store = GoogleCloudStorage(endpoint=storage.endpoint)._store("bucket")
        with pytest.raises(ConnectorError, match=r"gs://bucket/k\.parquet was stored with CRC32C"):
            store.put("k.parquet", pa_bytes())
    finally:
        storage.close()


def test_a_refused_upload_is_not_retried():
    storage = _FlakyStorage([(403, None)])
    try:
        gcs = GoogleCloudStorage(endpoint=storage.endpoint)
        with pytest.raises(ConnectorError, match=r"export to gs://bucket/k\.parquet failed"):
            gcs.export(trips(), "gs://bucket/k.parquet")
    finally:
        storage.close()
    assert len(storage.requests) == 1


def pa_bytes() -> bytes:
    from jupyter_blocks.io.connector import arrow_table
    from jupyter_blocks.io.partitioned import to_bytes

    return to_bytes(arrow_table(trips()), "x.parquet")


def test_large_objects_go_through_the_clients_upload(gcs, gcs_prefix, monkeypatch):
    from google.cloud.storage import Blob

    from jupyter_blocks.io.google import gcs as gcs_module

    monkeypatch.setattr(gcs_module, "MEDIA_UPLOAD_LIMIT", 1024)
    through_client: list[int] = []
    upload = Blob.upload_from_string

    def counted(self, data, *args, **kwargs):  # type: ignore[no-untyped-def]
        through_client.append(len(data))
        return upload(self, data, *args, **kwargs)

    monkeypatch.setattr(Blob, "upload_from_string", counted)
    frame = trips(days=30, per_day=200)
    gcs.export(frame, f"{gcs_prefix}/large.parquet")
    gcs.export(frame.head(1), f"{gcs_prefix}/small.csv")  # under the limit: one media request
    assert len(through_client) == 1 and through_client[0] > 1024
    pd.testing.assert_frame_equal(gcs.load(f"{gcs_prefix}/large.parquet"), frame)


def _counts(gcs: GoogleCloudStorage, uri: str) -> dict[int, int]:
    back = gcs.load(uri)
    return {day.day: n for day, n in back.groupby("lpep_pickup_date").size().items()}


def _leftovers(gcs: GoogleCloudStorage, uri: str) -> list[str]:
    """Objects beside the dataset (staging prefixes of its exports)."""
    bucket, _, prefix = uri[len("gs://") :].partition("/")
    parent, name = prefix.rsplit("/", 1)
    return sorted(blob.name for blob in gcs.client.list_blobs(bucket, prefix=f"{parent}/.{name}."))


@pytest.mark.parametrize(("mode", "expected"), [
    ("replace", {2: 1, 4: 1}),
    ("replace_partitions", {1: 4, 2: 1, 3: 4, 4: 1}),
    ("append", {1: 4, 2: 5, 3: 4, 4: 1}),
])
def test_partition_modes(gcs, gcs_prefix, mode, expected):
    uri = f"{gcs_prefix}/green"
    gcs.export(trips(days=3), uri, partition_cols=["lpep_pickup_date"])
    second = pd.concat([trips(days=1, per_day=1, first=2), trips(days=1, per_day=1, first=4)])
    gcs.export(second, uri, partition_cols=["lpep_pickup_date"], mode=mode)
    assert _counts(gcs, uri) == expected
    assert not _leftovers(gcs, uri)
    with pytest.raises(ConfigError, match="mode: expected one of"):
        gcs.export(second, uri, partition_cols=["lpep_pickup_date"], mode="overwrite")


def test_replace_is_the_default(gcs, gcs_prefix):
    uri = f"{gcs_prefix}/green"
    gcs.export(trips(days=3), uri, partition_cols=["lpep_pickup_date"])
    gcs.export(trips(days=1, per_day=2), uri, partition_cols=["lpep_pickup_date"])
    assert _counts(gcs, uri) == {1: 2}
    assert len(objects_under(gcs, uri)) == 1


def test_a_failed_upload_leaves_the_previous_dataset_whole(gcs, gcs_prefix, monkeypatch):
    from jupyter_blocks.io import partitioned

    uri = f"{gcs_prefix}/green"
    gcs.export(trips(days=3), uri, partition_cols=["lpep_pickup_date"])
    before = objects_under(gcs, uri)
    calls = 0
    encode = partitioned.to_bytes

    def failing(table, path):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("network gone")
        return encode(table, path)

    monkeypatch.setattr(partitioned, "to_bytes", failing)
    with pytest.raises(ConnectorError, match="network gone"):
        gcs.export(trips(days=2, first=5), uri, partition_cols=["lpep_pickup_date"],
                   max_workers=1)
    assert objects_under(gcs, uri) == before and _counts(gcs, uri) == {1: 4, 2: 4, 3: 4}
    assert not _leftovers(gcs, uri)


def test_an_export_stopped_after_its_commit_is_finished_by_the_next_one(gcs, gcs_prefix,
                                                                       monkeypatch):
    from jupyter_blocks.io.google import gcs_dataset

    uri = f"{gcs_prefix}/green"
    gcs.export(trips(days=3), uri, partition_cols=["lpep_pickup_date"])

    def killed(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt  # as if the process died right after writing the commit

    with monkeypatch.context() as patch:
        patch.setattr(gcs_dataset, "_apply", killed)
        with pytest.raises(KeyboardInterrupt):
            gcs.export(trips(days=1, first=7), uri, partition_cols=["lpep_pickup_date"])
    assert _leftovers(gcs, uri)  # staged and committed, not swapped in
    assert _counts(gcs, uri) == {7: 4}  # readers read the committed version
    gcs.export(trips(days=1, first=8), uri, partition_cols=["lpep_pickup_date"],
               mode="append")
    assert _counts(gcs, uri) == {7: 4, 8: 4}
    assert not _leftovers(gcs, uri)


def test_uploads_a_gone_writer_left_uncommitted_are_removed(gcs, gcs_prefix):
    uri = f"{gcs_prefix}/green"
    gcs.export(trips(days=1), uri, partition_cols=["lpep_pickup_date"])
    bucket, _, prefix = uri[len("gs://") :].partition("/")
    parent, name = prefix.rsplit("/", 1)
    gone = f"{parent}/.{name}.{_this_host()}-999999999.0aaaaaa.tmp/x=1/part-0000.parquet"
    alive = f"{parent}/.{name}.{_this_host()}-{os.getpid()}.0bbbbbb.tmp/x=1/part-0000.parquet"
    for left in (gone, alive):
        gcs.client.bucket(bucket).blob(left).upload_from_string(b"partial")
    assert _counts(gcs, uri) == {1: 4}  # uncommitted uploads are not part of any version
    gcs.export(trips(days=1, first=2), uri, partition_cols=["lpep_pickup_date"])
    assert _leftovers(gcs, uri) == [alive]


def _this_host() -> str:
    from jupyter_blocks.core import files

    return files._HOST


def test_readers_see_one_whole_version_while_exports_replace_it(gcs, gcs_prefix):
    import threading

    uri = f"{gcs_prefix}/green"
    versions = [trips(days=2 + v % 3, per_day=2, first=1 + v % 2).assign(fare=float(v))
                for v in range(6)]
    gcs.export(versions[0], uri, partition_cols=["lpep_pickup_date"])
    done = threading.Event()
    problems: list[str] = []
    reads = 0

    def export_all() -> None:
        try:
            for version in versions[1:]:
                gcs.export(version, uri, partition_cols=["lpep_pickup_date"])
                time.sleep(0.1)  # exports of runs one after another
        finally:
            done.set()

    writer = threading.Thread(target=export_all)
    writer.start()
    while not done.is_set():
        frame = gcs.load(uri)
        reads += 1
        fares = sorted(set(frame["fare"]))
        if len(fares) != 1 or len(frame) != len(versions[int(fares[0])]):
            problems.append(f"a mixed dataset: fares {fares}, {len(frame)} rows")
        time.sleep(0.02)  # the emulator serves one request at a time
    writer.join()
    assert not problems, problems[0]
    assert reads > 1
