from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jupyter_blocks.core.errors import ConfigError, ConnectorError, MissingDependencyError
from jupyter_blocks.io import Postgres
from jupyter_blocks.io.config import build_profile, find_config, load_profile
from jupyter_blocks.io.connector import require

SECRET = "hunter2-s3cr3t-Zq9"


def write_config(folder: Path, text: str) -> Path:
    path = folder / "io_config.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_env_var_interpolation_defaults_and_relative_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("JB_PG_HOST", "db.internal")
    monkeypatch.delenv("JB_PG_PORT", raising=False)
    write_config(
        tmp_path,
        """
        version: 0.1.1
        dev:
          POSTGRES_HOST: "{{ env_var('JB_PG_HOST') }}"
          POSTGRES_PORT: "{{ env_var('JB_PG_PORT', '6543') }}"
          DUCKDB_PATH: data/warehouse.duckdb
          LAKE_PATH: /abs/lake
          MY_EXTRA: 3
        """,
    )
    profile = load_profile("dev", directory=tmp_path)
    assert profile.POSTGRES_HOST == "db.internal"
    assert profile.POSTGRES_PORT == 6543
    assert tmp_path / "data" / "warehouse.duckdb" == profile.DUCKDB_PATH
    assert Path("/abs/lake") == profile.LAKE_PATH
    assert profile.extra("MY_EXTRA") == 3
    assert profile.name == "dev"


def test_config_found_by_walking_up(tmp_path):
    config = write_config(tmp_path, "default:\n  LAKE_PATH: lake\n")
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert find_config(nested) == config
    assert tmp_path / "lake" == load_profile(directory=nested).LAKE_PATH


def test_no_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"no io_config\.yaml found"):
        load_profile(directory=tmp_path / "nowhere")


def test_validation_errors_name_the_path_and_are_all_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("JB_PORT", "abc")
    write_config(
        tmp_path,
        """
        dev:
          POSTGRES_PORT: "{{ env_var('JB_PORT') }}"
          POSTGRES_CONNECT_TIMEOUT: soon
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load_profile("dev", directory=tmp_path)
    message = str(caught.value)
    assert "dev.POSTGRES_PORT: expected an integer, got 'abc'" in message
    assert "dev.POSTGRES_CONNECT_TIMEOUT: expected an integer, got 'soon'" in message


def test_missing_env_var_names_variable_and_profile(tmp_path, monkeypatch):
    monkeypatch.delenv("JB_NOT_SET_ANYWHERE", raising=False)
    write_config(tmp_path, "dev:\n  POSTGRES_PASSWORD: \"{{ env_var('JB_NOT_SET_ANYWHERE') }}\"\n")
    with pytest.raises(ConfigError, match="JB_NOT_SET_ANYWHERE") as caught:
        load_profile("dev", directory=tmp_path)
    assert "profile 'dev'" in str(caught.value)


def test_other_profiles_missing_env_vars_do_not_matter(tmp_path, monkeypatch):
    monkeypatch.delenv("JB_NOT_SET_ANYWHERE", raising=False)
    write_config(
        tmp_path,
        "default:\n  LAKE_PATH: lake\n"
        "dev:\n  POSTGRES_HOST: \"{{ env_var('JB_NOT_SET_ANYWHERE') }}\"\n",
    )
    assert tmp_path / "lake" == load_profile("default", directory=tmp_path).LAKE_PATH


def test_unknown_profile_suggests_near_match(tmp_path):
    write_config(tmp_path, "default: {}\ndev: {}\nproduction: {}\n")
    with pytest.raises(ConfigError, match="did you mean `production`"):
        load_profile("prodution", directory=tmp_path)


def test_invalid_yaml_names_the_line(tmp_path):
    write_config(tmp_path, "dev:\n  POSTGRES_HOST: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_profile("dev", directory=tmp_path)


def test_secrets_never_in_str_repr_errors_or_logs(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("JB_PG_PASSWORD", SECRET)
    monkeypatch.setenv("JB_SA_KEY", json.dumps({"private_key": SECRET, "project_id": "p"}))
    write_config(
        tmp_path,
        """
        dev:
          POSTGRES_HOST: 127.0.0.1
          POSTGRES_PORT: 1
          POSTGRES_CONNECT_TIMEOUT: 2
          POSTGRES_PASSWORD: "{{ env_var('JB_PG_PASSWORD') }}"
          GOOGLE_SERVICE_ACC_KEY: "{{ env_var('JB_SA_KEY') }}"
          SOME_API_TOKEN: "{{ env_var('JB_PG_PASSWORD') }}"
        """,
    )
    caplog.set_level(logging.DEBUG)
    profile = load_profile("dev", directory=tmp_path)
    assert profile.POSTGRES_PASSWORD is not None
    assert profile.POSTGRES_PASSWORD.get_secret_value() == SECRET
    assert profile.GOOGLE_SERVICE_ACC_KEY is not None
    assert profile.GOOGLE_SERVICE_ACC_KEY.get_secret_value()["project_id"] == "p"
    texts = [str(profile), repr(profile), profile.model_dump_json(), str(profile.model_dump())]
    connector = Postgres.with_config("dev", directory=tmp_path)
    texts += [repr(connector), str(connector), repr(connector.engine), str(connector.engine.url)]
    with pytest.raises(ConnectorError) as caught:
        connector.load("select 1")
    texts.append(str(caught.value))
    with pytest.raises(ConnectorError) as caught_export:
        connector.export(__import__("pandas").DataFrame({"a": [1]}), "s", "t")
    texts.append(str(caught_export.value))
    import traceback

    texts.append("".join(traceback.format_exception(caught_export.value)))
    texts.append(caplog.text)
    assert "postgres profile 'dev'" in str(caught.value)
    for text in texts:
        assert SECRET not in text


def test_secret_validation_errors_hide_the_value(tmp_path, monkeypatch):
    monkeypatch.setenv("JB_SA_KEY", "not json " + SECRET)
    write_config(tmp_path, "dev:\n  GOOGLE_SERVICE_ACC_KEY: \"{{ env_var('JB_SA_KEY') }}\"\n")
    with pytest.raises(ConfigError) as caught:
        load_profile("dev", directory=tmp_path)
    assert "dev.GOOGLE_SERVICE_ACC_KEY" in str(caught.value)
    assert SECRET not in str(caught.value)
    with pytest.raises(ConfigError) as caught_build:
        build_profile("dev", {"POSTGRES_PASSWORD": ["a", SECRET]})
    assert SECRET not in str(caught_build.value)


def test_template_profile_file_is_valid(monkeypatch, tmp_path):
    from importlib.resources import files

    template = files("jupyter_blocks.io").joinpath("templates/io_config.yaml").read_text()
    path = write_config(tmp_path, template)
    default = load_profile("default", config_path=path)
    assert tmp_path / "warehouse.duckdb" == default.DUCKDB_PATH
    monkeypatch.setenv("POSTGRES_PASSWORD", SECRET)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/keys/sa.json")
    dev = load_profile("dev", config_path=path)
    assert dev.POSTGRES_PORT == 5432
    assert dev.GOOGLE_PROJECT_ID is None
    assert SECRET not in repr(dev)


def test_connectors_import_lazily_and_name_missing_extras():
    code = (
        "import sys\n"
        "from jupyter_blocks.io import Postgres, GoogleCloudStorage, BigQuery, DuckDB, LocalFiles\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('psycopg', 'adbc_driver_postgresql', 'adbc_driver_manager', 'google')]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
    with pytest.raises(MissingDependencyError, match=r"jupyter-blocks\[gcs\]"):
        require("jupyter_blocks_no_such_module", "google-cloud-storage", "gcs")


def test_missing_adbc_names_the_postgres_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "adbc_driver_postgresql.dbapi", None)
    import pandas as pd

    with pytest.raises(MissingDependencyError, match=r"jupyter-blocks\[postgres\]"):
        Postgres().export(pd.DataFrame({"a": [1]}), "s", "t")


def test_mages_duckdb_database_and_repo_path(tmp_path, monkeypatch):
    monkeypatch.delenv("MAGE_REPO_PATH", raising=False)
    write_config(
        tmp_path,
        """
        default:
          DUCKDB_DATABASE: "{{ env_var('MAGE_REPO_PATH') }}/warehouse.duckdb"
        relative:
          DUCKDB_DATABASE: data/w.duckdb
        memory:
          DUCKDB_DATABASE: ":memory:"
        both:
          DUCKDB_PATH: ours.duckdb
          DUCKDB_DATABASE: "{{ env_var('MAGE_REPO_PATH') }}/theirs.duckdb"
        """,
    )
    # MAGE_REPO_PATH is the profile file's folder unless set (mage run sets the project's).
    assert load_profile(directory=tmp_path).duckdb_file == tmp_path.resolve() / "warehouse.duckdb"
    assert load_profile("relative", directory=tmp_path).duckdb_file == tmp_path / "data/w.duckdb"
    assert str(load_profile("memory", directory=tmp_path).duckdb_file) == ":memory:"
    assert load_profile("both", directory=tmp_path).duckdb_file == tmp_path / "ours.duckdb"
    monkeypatch.setenv("MAGE_REPO_PATH", "/somewhere/else")
    assert str(load_profile(directory=tmp_path).duckdb_file) == "/somewhere/else/warehouse.duckdb"
