import json
from pathlib import Path

from jupyter_blocks.history.redact import Redactor, known_secrets
from tests.helpers.notebooks import write_notebook

PEM = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n"
    "aQ2xJ8Kc1Tq4ZyXvB3nW0rLmP5sE6dF7gH8iJ9kL0mN1oP2qR3\n-----END PRIVATE KEY-----\n"
)
SERVICE_ACCOUNT = {
    "type": "service_account",
    "project_id": "my-project",
    "private_key_id": "0123456789abcdef0123",
    "private_key": PEM,
    "client_email": "etl@my-project.iam.gserviceaccount.com",
}


def write_config(folder: Path, text: str) -> None:
    (folder / "io_config.yaml").write_text(text)


def test_secret_keys_of_every_profile_are_known(tmp_path):
    write_config(
        tmp_path,
        f"""\
version: 0.1.1
default:
  POSTGRES_USER: etl
  POSTGRES_PASSWORD: pg-secret-1
  SNOWFLAKE_TOKEN: "{{{{ env_var('SF_TOKEN') }}}}"
  GOOGLE_SERVICE_ACC_KEY: {json.dumps(SERVICE_ACCOUNT)}
prod:
  POSTGRES_PASSWORD: "{{{{ env_var('PROD_PASSWORD') }}}}"
  WAREHOUSE_SECRET: literal-secret-2
""",
    )
    found = set(known_secrets(tmp_path, environ={"SF_TOKEN": "sf-token-3"}))
    assert {"pg-secret-1", "sf-token-3", "literal-secret-2", PEM, "0123456789abcdef0123"} <= found
    assert "etl" not in found and "my-project" not in found
    assert SERVICE_ACCOUNT["client_email"] not in found


def test_the_nearest_config_above_the_folder_is_used(tmp_path):
    write_config(tmp_path, "default:\n  POSTGRES_PASSWORD: pg-secret-1\n")
    (tmp_path / "notebooks").mkdir()
    assert "pg-secret-1" in known_secrets(tmp_path / "notebooks", environ={})


def test_a_broken_config_gives_no_secrets_and_no_error(tmp_path):
    write_config(tmp_path, "default: [unclosed\n")
    assert known_secrets(tmp_path, environ={}) == ()


def test_environment_variables_named_as_secrets_are_known(tmp_path):
    environ = {
        "MY_SERVICE_TOKEN": "abcdef123",
        "DB_PASSWORD": "hunter22",
        "PATH": "/usr/bin",
        "FEATURE_TOKEN": "true",
        "X_KEY": "ab",
        "HOME": "/root",
    }
    found = set(known_secrets(tmp_path, environ=environ))
    assert found == {"abcdef123", "hunter22"}


def test_service_account_key_files_are_read_for_their_private_key(tmp_path):
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps(SERVICE_ACCOUNT))
    write_config(tmp_path, "default:\n  GOOGLE_SERVICE_ACC_KEY_FILEPATH: key.json\n")
    assert PEM in known_secrets(tmp_path, environ={})
    (tmp_path / "io_config.yaml").unlink()
    environ = {"GOOGLE_APPLICATION_CREDENTIALS": str(key_file)}
    assert PEM in known_secrets(tmp_path, environ=environ)


def test_text_is_scrubbed_also_in_escaped_and_partial_forms():
    redact = Redactor(["abc123xyz", "abc123", PEM])
    assert redact.text("password=abc123xyz; other=abc123") == "password=***; other=***"
    assert PEM not in redact.text(f"key: {PEM}")
    assert "MIIEvQIBADANBgkq" not in redact.text(f"key: {PEM!r}")
    assert "MIIEvQIBADANBgkq" not in redact.text(json.dumps({"private_key": PEM}))
    second_line = PEM.splitlines()[2]
    assert redact.text(f"line: {second_line}") == "line: ***"
    assert redact.text("nothing to hide") == "nothing to hide"


def test_values_are_scrubbed_in_nested_records():
    redact = Redactor(["s3cret"])
    record = {
        "error": "bad s3cret",
        "blocks": [{"traceback": "x s3cret y", "rows": 3}],
        "seconds": 1.5,
        "variables": {"password": "s3cret"},
    }
    assert redact.value(record) == {
        "error": "bad ***",
        "blocks": [{"traceback": "x *** y", "rows": 3}],
        "seconds": 1.5,
        "variables": {"password": "***"},
    }


def test_no_secrets_leave_text_alone():
    assert Redactor([]).text("a b c") == "a b c"
    assert Redactor(["", None]).text("a b c") == "a b c"  # type: ignore[list-item]


def test_runs_never_store_a_secret_a_block_printed_or_raised(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from jupyter_blocks.cli import cli
    from jupyter_blocks.history.store import RunStore
    from jupyter_blocks.runner.run import run_target

    monkeypatch.setenv("JB_TEST_PG_PASSWORD", "env-pass-6d1f")
    write_config(
        tmp_path,
        "dev:\n  POSTGRES_PASSWORD: \"{{ env_var('JB_TEST_PG_PASSWORD') }}\"\n"
        "  GOOGLE_SERVICE_ACC_KEY_FILEPATH: key.json\n",
    )
    (tmp_path / "key.json").write_text(json.dumps(SERVICE_ACCOUNT))
    cells = [
        "%load_ext jupyter_blocks\nimport json\nimport logging",
        "%%block leak\n"
        "from jupyter_blocks.io.config import load_profile\n"
        "profile = load_profile('dev')\n"
        "password = profile.POSTGRES_PASSWORD.get_secret_value()\n"
        "print('connecting with', password)\n"
        "logging.getLogger('etl').warning('dsn postgresql://etl:%s@db/x', password)\n"
        "print(json.dumps(json.load(open('key.json'))))\n"
        "password",
        "%%block fail -u leak\nraise RuntimeError(f'login failed for password {leak}')",
    ]
    path = write_notebook(tmp_path / "leaky.ipynb", *cells)
    finished = run_target(str(path), echo=False, variables={"token": "env-pass-6d1f"})
    assert finished.result.outcomes["fail"].status == "failed"
    run_id = finished.result.run_id
    stored = (tmp_path / ".jupyter_blocks" / "runs.sqlite").read_bytes()
    for secret in ("env-pass-6d1f", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"):
        assert secret.encode() not in stored
    logs = CliRunner().invoke(cli, ["runs", "logs", run_id, "leak", str(tmp_path)]).output
    assert "connecting with ***" in logs and "postgresql://etl:***@db/x" in logs
    blocks = {b["block"]: b for b in RunStore.for_directory(tmp_path).get_run(run_id)["blocks"]}
    assert blocks["fail"]["error"].endswith("login failed for password ***")
    assert "login failed for password ***" in blocks["fail"]["traceback"]


def test_the_cached_redactor_follows_the_config_and_the_environment(tmp_path, monkeypatch):
    write_config(tmp_path, "default:\n  POSTGRES_PASSWORD: first-secret-1\n")
    first = Redactor.cached_for_directory(tmp_path)
    assert Redactor.cached_for_directory(tmp_path) is first
    assert first.text("first-secret-1") == "***"
    write_config(tmp_path, "default:\n  POSTGRES_PASSWORD: second-secret-22\n")
    second = Redactor.cached_for_directory(tmp_path)
    assert second.text("second-secret-22 first-secret-1") == "*** first-secret-1"
    monkeypatch.setenv("ETL_API_TOKEN", "token-value-333")
    third = Redactor.cached_for_directory(tmp_path)
    assert third.text("token-value-333") == "***"
    (tmp_path / "key.json").write_text(json.dumps({**SERVICE_ACCOUNT, "private_key": "a"}))
    write_config(
        tmp_path,
        "default:\n  POSTGRES_PASSWORD: second-secret-22\n"
        "  GOOGLE_SERVICE_ACC_KEY_FILEPATH: key.json\n",
    )
    Redactor.cached_for_directory(tmp_path)
    (tmp_path / "key.json").write_text(json.dumps(SERVICE_ACCOUNT))  # the key file alone changes
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7" not in (
        Redactor.cached_for_directory(tmp_path).text(PEM)
    )


def test_the_cli_never_prints_a_secret_a_block_printed_or_raised(tmp_path):
    import subprocess
    import sys

    write_config(tmp_path, "dev:\n  POSTGRES_PASSWORD: cli-secret-4242\n")
    cells = [
        "%load_ext jupyter_blocks",
        "%%block leak\n"
        "from jupyter_blocks.io.config import load_profile\n"
        "password = load_profile('dev').POSTGRES_PASSWORD.get_secret_value()\n"
        "print('using', password)\n"
        "password",
        "%%block fail -u leak\nraise RuntimeError(f'login failed for {leak}')",
    ]
    path = write_notebook(tmp_path / "leaky.ipynb", *cells)
    written = tmp_path / "executed.ipynb"
    # Papermill mode first: its kernel serves a block from the cache when it can.
    for extra in (["--output", str(written)], [], ["--json"], ["--executor", "processes"]):
        done = subprocess.run(
            [sys.executable, "-m", "jupyter_blocks.cli", "run", str(path), *extra],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 1, done.stderr
        shown = done.stdout + done.stderr
        assert "cli-secret-4242" not in shown, extra
        assert "login failed for ***" in shown, extra
        if extra != ["--json"]:
            assert "using ***" in shown or extra[:1] == ["--output"], extra
        if extra[:1] == ["--output"]:
            executed = written.read_text()
            assert "cli-secret-4242" not in executed
            assert "using ***" in executed and "login failed for ***" in executed
