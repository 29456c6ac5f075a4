"""Profiles: ``io_config.yaml`` in Mage's format, found, interpolated and validated.

What belongs here: finding the profile file, rendering ``{{ env_var('X') }}``, validating one
profile into a :class:`Profile`, and the error messages for all of that. Connectors read their
settings from a :class:`Profile`; nothing here opens a connection.

The file maps profile names to flat keys (a top-level ``version`` key is ignored, as in Mage)::

    version: 0.1.1
    default:
      DUCKDB_PATH: warehouse.duckdb
      LAKE_PATH: lake
    dev:
      POSTGRES_HOST: "{{ env_var('POSTGRES_HOST', 'localhost') }}"
      POSTGRES_PASSWORD: "{{ env_var('POSTGRES_PASSWORD') }}"

Mage's keys used by our connectors: ``POSTGRES_HOST``, ``POSTGRES_PORT``, ``POSTGRES_DBNAME``,
``POSTGRES_SCHEMA``, ``POSTGRES_USER``, ``POSTGRES_PASSWORD``, ``POSTGRES_CONNECT_TIMEOUT``,
``GOOGLE_SERVICE_ACC_KEY`` (a mapping: the service-account JSON),
``GOOGLE_SERVICE_ACC_KEY_FILEPATH``, ``GOOGLE_LOCATION``. Keys of our own, for the embedded
defaults and emulators:

- ``DUCKDB_PATH``: the DuckDB warehouse file (relative paths are relative to the profile file).
  Mage's ``DUCKDB_DATABASE`` is read when it is absent (Mage reads a relative one against its
  working folder, we against the profile file: the project folder, where runs work).
- ``LAKE_PATH``: the local-folder lake (relative paths are relative to the profile file).
- ``GOOGLE_PROJECT_ID``: the Google Cloud project (default: the service account's project).
- ``GCS_ENDPOINT``: a Cloud Storage endpoint such as an emulator's ``http://127.0.0.1:9023``
  (otherwise ``STORAGE_EMULATOR_HOST`` or Google's endpoint is used).
- ``BIGQUERY_ENDPOINT``: a BigQuery endpoint such as an emulator's ``http://127.0.0.1:9050``.
- ``BIGQUERY_SCRATCH_DATASET``: the dataset (``dataset`` or ``project.dataset``) where SQL blocks
  on BigQuery load their upstream DataFrames, as tables named after the blocks that expire a day
  after each load (default ``jupyter_blocks_scratch``, created when missing). Set it when the
  account may not create datasets, or to keep runs at the same time apart.

- ``SQL_CONNECTOR``: the engine SQL blocks on this profile run on when they give no
  ``--connector`` (``duckdb``, ``postgres`` or ``bigquery``; default ``duckdb``).

``{{ env_var('MAGE_REPO_PATH') }}`` is the profile file's folder unless the environment sets
it: ``mage run`` sets it to the project folder, which holds the profile file, so an exported
project's ``DUCKDB_DATABASE: "{{ env_var('MAGE_REPO_PATH') }}/warehouse.duckdb"`` names the same
file under both runners.

Any other key is kept as an extra (Mage has many more); extras whose names say they are secret
(``PASSWORD``, ``SECRET``, ``TOKEN``, ``_KEY``) are hidden like the declared secrets. Secret values
never appear in ``str``/``repr`` of a profile nor in the messages raised here.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, Secret, SecretStr, ValidationError

from jupyter_blocks.core.errors import ConfigError, did_you_mean
from jupyter_blocks.io.config_file import CONFIG_FILE_NAME, find_config

logger = logging.getLogger(__name__)

DEFAULT_PROFILE = "default"
_SECRET_KEY = re.compile(r"PASSWORD|SECRET|TOKEN|PRIVATE|_KEY$")
_PATH_KEYS = ("DUCKDB_PATH", "DUCKDB_DATABASE", "LAKE_PATH", "GOOGLE_SERVICE_ACC_KEY_FILEPATH")
#: Set by ``mage run`` to the project folder; the profile file's folder otherwise.
REPO_PATH_VARIABLE = "MAGE_REPO_PATH"


class Profile(BaseModel):
    """One validated profile. Declared keys are attributes; other keys are kept as extras.

    Attributes:
        name: The profile's name (``default``, ``dev``, ...).
        source: The file it was read from, or None for a profile built in code.
    """

    model_config = ConfigDict(
        extra="allow", frozen=True, populate_by_name=True, coerce_numbers_to_str=True
    )

    name: str = Field(default=DEFAULT_PROFILE, exclude=True)
    source: Path | None = Field(default=None, exclude=True)

    POSTGRES_HOST: str | None = None
    POSTGRES_PORT: int | None = None
    POSTGRES_DBNAME: str | None = None
    POSTGRES_SCHEMA: str | None = None
    POSTGRES_USER: str | None = None
    POSTGRES_PASSWORD: SecretStr | None = None
    POSTGRES_CONNECT_TIMEOUT: int | None = None

    GOOGLE_SERVICE_ACC_KEY: Secret[dict[str, Any]] | None = None
    GOOGLE_SERVICE_ACC_KEY_FILEPATH: Path | None = None
    GOOGLE_LOCATION: str | None = None
    GOOGLE_PROJECT_ID: str | None = None
    GCS_ENDPOINT: str | None = None
    BIGQUERY_ENDPOINT: str | None = None
    BIGQUERY_SCRATCH_DATASET: str | None = None
    SQL_CONNECTOR: str | None = None

    DUCKDB_PATH: Path | None = None
    DUCKDB_DATABASE: Path | None = None
    LAKE_PATH: Path | None = None

    def describe(self) -> str:
        """Name the profile for messages: ``profile 'dev' (proj/io_config.yaml)``."""
        where = f" ({self.source})" if self.source else ""
        return f"profile '{self.name}'{where}"

    @property
    def duckdb_file(self) -> Path | None:
        """The DuckDB database file: ``DUCKDB_PATH``, else Mage's ``DUCKDB_DATABASE``."""
        return self.DUCKDB_PATH or self.DUCKDB_DATABASE

    def beside(self, name: str) -> Path:
        """``name`` next to the profile file (in the working folder for a profile built in code)."""
        return (self.source.parent if self.source else Path.cwd()) / name

    def extra(self, key: str, default: Any = None) -> Any:
        """Return an extra key (one not declared above), or ``default``."""
        return (self.model_extra or {}).get(key, default)


def load_profile(
    profile: str | None = None,
    config_path: Path | str | None = None,
    directory: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Profile:
    """Read, interpolate and validate one profile.

    Args:
        profile: The profile's name; ``default`` when None.
        config_path: The profile file; found from ``directory`` when None.
        directory: Where to start looking for ``io_config.yaml`` (default: the working folder).
        environ: Environment used by ``env_var`` (default: ``os.environ``).

    Returns:
        The validated profile.

    Raises:
        ConfigError: The file is missing or malformed, the profile is unknown, an environment
            variable is missing, or a value has the wrong type. Every problem is reported.
    """
    name = profile or DEFAULT_PROFILE
    path = Path(config_path) if config_path is not None else find_config(directory)
    if path is None:
        where = Path(directory) if directory is not None else Path.cwd()
        raise ConfigError(f"no {CONFIG_FILE_NAME} found in {where} or any folder above it")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None)
        # The problem only: its context quotes the text, which may hold a secret.
        said = f" ({problem})" if problem else ""
        raise ConfigError(f"{path} is not valid YAML{line}{said}: profile '{name}' cannot be "
                          "read; fix the file") from None
    profiles = _profiles(document, path)
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise ConfigError(
            f"profile '{name}' is not in {path}{did_you_mean(name, profiles)}; profiles: {known}"
        )
    raw = profiles[name]
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{name}: expected a mapping of keys, got {type(raw).__name__} ({path})")
    environ = dict(os.environ if environ is None else environ)
    environ.setdefault(REPO_PATH_VARIABLE, str(path.resolve().parent))
    values = _interpolate(name, raw, path, environ)
    return build_profile(name, values, source=path)


def build_profile(name: str, values: Mapping[str, Any], source: Path | None = None) -> Profile:
    """Validate flat ``values`` into a profile, resolving relative paths against ``source``.

    Raises:
        ConfigError: Listing every invalid key as ``name.KEY: expected ..., got ...``.
    """
    prepared: dict[str, Any] = {}
    for key, value in values.items():
        if value == "":  # an empty env_var default means "not set", as in Mage
            value = None
        if key == "GOOGLE_SERVICE_ACC_KEY" and isinstance(value, str):
            value = _parse_key_json(name, value)
        if key not in Profile.model_fields and _is_secret(key) and value is not None:
            prepared[key] = SecretStr(str(value))
        else:
            prepared[key] = value
    try:
        result = Profile(name=name, source=source, **prepared)
    except ValidationError as exc:
        problems = [_describe_problem(name, error) for error in exc.errors()]
        where = f" ({source})" if source else ""
        # ``from None``: pydantic's own message quotes the input, which may be a secret.
        raise ConfigError("; ".join(problems) + where) from None
    if source is not None:
        updates = {
            key: source.parent / getattr(result, key)
            for key in _PATH_KEYS
            if getattr(result, key) is not None and not getattr(result, key).is_absolute()
            # Mage's `:memory:` and MotherDuck's `md:name` are not files.
            and not str(getattr(result, key)).startswith((":", "md:"))
        }
        if updates:
            result = result.model_copy(update=updates)
    return result


def _parse_key_json(profile: str, text: str) -> Any:
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise ConfigError(
            f"{profile}.GOOGLE_SERVICE_ACC_KEY: expected a mapping or JSON text (value hidden)"
        ) from None


def _profiles(document: Any, path: Path) -> dict[str, Any]:
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise ConfigError(f"{path}: expected a mapping of profile names to keys")
    return {str(key): value for key, value in document.items() if key != "version"}


def _interpolate(
    profile: str, raw: Mapping[str, Any], path: Path, environ: Mapping[str, str]
) -> dict[str, Any]:
    from jupyter_blocks.io import templating as _templating

    problems: list[str] = []
    values: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            values[str(key)] = _templating.render_config_value(value, environ)
        except _templating.MissingEnvVar as exc:
            problems.append(
                f"{profile}.{key}: environment variable {exc.variable} is not set "
                f"(profile '{profile}' in {path})"
            )
        except _templating.TemplateProblem as exc:
            detail = "" if _is_secret(str(key)) else f": {exc.detail}"
            problems.append(f"{profile}.{key}: cannot render the template{detail} ({path})")
    if problems:
        raise ConfigError("; ".join(problems))
    return values


def _is_secret(key: str) -> bool:
    return key in {"POSTGRES_PASSWORD", "GOOGLE_SERVICE_ACC_KEY"} or bool(_SECRET_KEY.search(key))


_EXPECTED = {
    "int_parsing": "expected an integer",
    "int_type": "expected an integer",
    "int_from_float": "expected an integer",
    "string_type": "expected a string",
    "path_type": "expected a path",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
}


def _describe_problem(profile: str, error: Any) -> str:
    location = ".".join(str(part) for part in error["loc"])
    key = str(error["loc"][0]) if error["loc"] else ""
    expected = _EXPECTED.get(error["type"], error["msg"])
    if _is_secret(key):
        return f"{profile}.{location}: {expected} (value hidden)"
    return f"{profile}.{location}: {expected}, got {error['input']!r}"
