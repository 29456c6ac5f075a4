"""Secrets a folder's runs may have printed, and their removal from text shown to people.

What belongs here: collecting the secret values known for a folder (the secret keys of every
profile of the nearest ``io_config.yaml``, the private key of a service-account key file it or
``$GOOGLE_APPLICATION_CREDENTIALS`` names, the password of ``$JUPYTER_BLOCKS_STORE``, and
environment variables whose names say they are secret) and replacing them with ``***``, also in
their JSON- and repr-escaped forms and line by line for multi-line keys. Headless and notebook
runs pass every event, their variables and each block's captured output through a
:class:`Redactor` before the run store records them; the server extension passes what it sends
from the store through one again (for runs recorded before a secret was configured).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from jupyter_blocks.core.errors import BlocksError
from jupyter_blocks.history.database import sqlite_path
from jupyter_blocks.io.config_file import find_config

logger = logging.getLogger(__name__)

MASK = "***"
#: Names of keys and environment variables whose values are secret.
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE|APIKEY|_KEY$", re.IGNORECASE)
#: Environment values shorter than this, or flag words, are settings, not secrets.
MIN_ENV_SECRET = 4
_FLAG_WORDS = frozenset({"true", "false", "none", "null", "yes", "no", "off", "on"})
#: Lines of a multi-line secret (a PEM key) at least this long are hidden on their own too.
MIN_SECRET_LINE = 16
_ENV_VAR = re.compile(r"""env_var\(\s*['"](\w+)['"]""")
_MAX_KEY_FILE = 1 << 20
_KEY_FILE_LINE = re.compile(r"GOOGLE_SERVICE_ACC_KEY_FILEPATH\s*:\s*(.+)")


class Redactor:
    """Replaces known secrets in text and in nested records.

    Args:
        secrets: The secret values; empty ones are ignored.
    """

    def __init__(self, secrets: Iterable[str | None]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if not secret:
                continue
            forms.update({secret, json.dumps(secret)[1:-1], repr(secret)[1:-1]})
            if "\n" in secret:
                forms.update(
                    line.strip()
                    for line in secret.splitlines()
                    if len(line.strip()) >= MIN_SECRET_LINE
                )
        forms.discard("")
        # Longest first, so a secret containing another is hidden whole.
        ordered = sorted(forms, key=lambda form: (-len(form), form))
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    @classmethod
    def for_directory(
        cls, directory: str | Path, environ: Mapping[str, str] | None = None
    ) -> Redactor:
        """A redactor for the secrets :func:`known_secrets` finds for ``directory``."""
        return cls(known_secrets(directory, environ))

    @classmethod
    def cached_for_directory(cls, directory: str | Path) -> Redactor:
        """:meth:`for_directory` with ``os.environ``, made again only when its inputs change.

        For runs that follow one another in a kernel: the secrets are found again when the
        folder's ``io_config.yaml`` (or a key file it names) or the environment changes.
        """
        config = find_config(directory)
        stamp = (
            str(Path(directory).resolve()),
            _stamp(config),
            _stamp_of_key_files(config),
            hash(frozenset(os.environ.items())),
        )
        cached = _CACHE.get(stamp[0])
        if cached is not None and cached[0] == stamp:
            return cached[1]
        redactor = cls.for_directory(directory)
        _CACHE[stamp[0]] = (stamp, redactor)
        return redactor

    @property
    def hides_nothing(self) -> bool:
        """Whether no secret is known (every text comes back as it was)."""
        return self._pattern is None

    def event(self, event: Any) -> Any:
        """A runner event with the secrets hidden in its texts (error, traceback, output)."""
        if self._pattern is None:
            return event
        changes = {
            name: self.text(value)
            for name in ("error", "traceback", "output", "reason")
            if isinstance(value := getattr(event, name, None), str)
        }
        return dataclasses.replace(event, **changes) if changes else event

    def text(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def value(self, value: Any) -> Any:
        """A copy of a JSON-like record with every string passed through :meth:`text`."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(item) for item in value]
        return value


_CACHE: dict[str, tuple[tuple[Any, ...], Redactor]] = {}


def _stamp(path: Path | None) -> tuple[str, int, int] | None:
    """What tells a file changed: its path, size and modification time."""
    if path is None:
        return None
    try:
        status = path.stat()
    except OSError:
        return None
    return str(path), status.st_size, status.st_mtime_ns


def _stamp_of_key_files(config: Path | None) -> tuple[Any, ...]:
    """Stamps of the service-account key files ``config`` names (found by a quick scan)."""
    if config is None:
        return ()
    try:
        text = config.read_text(encoding="utf-8")
    except OSError:
        return ()
    stamps = []
    for match in _KEY_FILE_LINE.finditer(text):
        name = match.group(1).strip().strip("'\"")
        stamps.append(_stamp((config.parent / name).expanduser()))
    return tuple(stamps)


def known_secrets(
    directory: str | Path, environ: Mapping[str, str] | None = None
) -> tuple[str, ...]:
    """The secret values known for a folder's runs.

    Args:
        directory: A notebook's or project's folder; ``io_config.yaml`` is looked for there
            and above.
        environ: The environment (default: ``os.environ``).

    Returns:
        The values, sorted; never raises for a missing or broken configuration.
    """
    environ = os.environ if environ is None else environ
    found: set[str] = set()
    config = find_config(directory)
    if config is not None:
        found.update(_profile_secrets(config, environ))
    for name, value in environ.items():
        if (
            SECRET_NAME.search(name)
            and len(value) >= MIN_ENV_SECRET
            and value.lower() not in _FLAG_WORDS
        ):
            found.add(value)
    credentials = environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if credentials:
        found.update(_key_file_secrets(Path(credentials)))
    store = environ.get("JUPYTER_BLOCKS_STORE")
    if store:
        found.update(_url_password(store))
    found.discard("")
    return tuple(sorted(found))


def _profile_secrets(config: Path, environ: Mapping[str, str]) -> set[str]:
    # Imported here: YAML and the profile models (pydantic) are needed only with a config file.
    import yaml
    from pydantic import Secret, SecretStr

    from jupyter_blocks.io.config import load_profile

    try:
        document = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        logger.debug("no secrets from %s: %s", config, exc)
        return set()
    if not isinstance(document, Mapping):
        return set()
    found: set[str] = set()
    for name, raw in document.items():
        if name == "version" or not isinstance(raw, Mapping):
            continue
        try:
            profile = load_profile(str(name), config_path=config, environ=environ)
        except BlocksError:
            # The profile does not load (a missing variable, a bad value): take what it
            # spells out, literal values and the variables its secret keys name.
            found.update(_raw_secrets(raw, environ))
            continue
        for key, value in profile:
            if isinstance(value, (SecretStr, Secret)):
                found.update(_leaves(value.get_secret_value(), secret=True))
            elif key == "GOOGLE_SERVICE_ACC_KEY_FILEPATH" and value is not None:
                found.update(_key_file_secrets(Path(value)))
    return found


def _raw_secrets(raw: Mapping[Any, Any], environ: Mapping[str, str]) -> set[str]:
    found: set[str] = set()
    for key, value in raw.items():
        if not SECRET_NAME.search(str(key)):
            continue
        if isinstance(value, str) and "{{" in value:
            found.update(environ.get(variable, "") for variable in _ENV_VAR.findall(value))
        else:
            found.update(_leaves(value, secret=True))
    return found


def _leaves(value: Any, secret: bool) -> set[str]:
    """The strings of a secret value; in a mapping, those under secret-named keys."""
    if isinstance(value, Mapping):
        found: set[str] = set()
        for key, item in value.items():
            found.update(_leaves(item, secret=bool(SECRET_NAME.search(str(key)))))
        return found
    if isinstance(value, (list, tuple)):
        return {leaf for item in value for leaf in _leaves(item, secret)}
    if secret and value is not None and not isinstance(value, bool):
        return {str(value)}
    return set()


def _key_file_secrets(path: Path) -> set[str]:
    try:
        if path.stat().st_size > _MAX_KEY_FILE:
            return set()
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return _leaves(document, secret=False)


def _url_password(url: str) -> set[str]:
    if sqlite_path(url) is not None:
        return set()  # a plain SQLite URL has no password (and needs no SQLAlchemy to say so)
    import sqlalchemy as sa

    try:
        password = sa.engine.make_url(url).password
    except sa.exc.ArgumentError:
        return set()
    return {str(password)} if password else set()
