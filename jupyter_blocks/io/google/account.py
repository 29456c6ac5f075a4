"""The Google account every Google connector shares: project, endpoint, service-account key.

What belongs here: :class:`GoogleConnector`, the base of the Cloud Storage and BigQuery
connectors (their constructor arguments from a profile's ``GOOGLE_*`` keys, the endpoint of an
emulator, and the credentials), so both read a profile the same way and never show the key.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from jupyter_blocks.io.config import Profile
from jupyter_blocks.io.connector import Connector, require

if TYPE_CHECKING:
    from pathlib import Path


def google_credentials(
    key: dict[str, Any] | None, key_path: Path | str | None, anonymous: bool
) -> Any:
    """Credentials from a service-account key (mapping or file), anonymous, or None for ADC."""
    if key is not None or key_path is not None:
        service_account = require("google.oauth2.service_account", "google-auth", "gcs")
        if key is not None:
            return service_account.Credentials.from_service_account_info(key)
        return service_account.Credentials.from_service_account_file(str(key_path))
    if anonymous:
        credentials = require("google.auth.credentials", "google-auth", "gcs")
        return credentials.AnonymousCredentials()
    return None


class GoogleConnector(Connector):
    """What the Google connectors share: project, endpoint and a service-account key.

    The key is kept in a private attribute and never appears in a repr or a message. Without an
    endpoint, the one in the environment variable :attr:`ENDPOINT_ENV` (if any) is used.
    """

    #: An environment variable naming an emulator's endpoint (the client libraries' convention).
    ENDPOINT_ENV: str | None = None

    def __init__(
        self,
        *,
        project: str | None = None,
        endpoint: str | None = None,
        service_account_key: dict[str, Any] | None = None,
        service_account_key_path: Path | str | None = None,
        profile_name: str | None = None,
    ) -> None:
        self.project = project
        if not endpoint and self.ENDPOINT_ENV:
            endpoint = os.environ.get(self.ENDPOINT_ENV)
        self.endpoint = endpoint or None
        self.__key = service_account_key
        self.key_path = service_account_key_path
        self.profile_name = profile_name
        self._client: Any = None

    @staticmethod
    def account(profile: Profile) -> dict[str, Any]:
        """The constructor arguments a profile's ``GOOGLE_*`` keys give."""
        key = profile.GOOGLE_SERVICE_ACC_KEY
        key_info = key.get_secret_value() if key is not None else None
        return {
            "project": profile.GOOGLE_PROJECT_ID or (key_info or {}).get("project_id"),
            "service_account_key": key_info,
            "service_account_key_path": profile.GOOGLE_SERVICE_ACC_KEY_FILEPATH,
            "profile_name": profile.name,
        }

    def credentials(self) -> Any:
        """Credentials for the client: the key, anonymous for an emulator, or None for ADC."""
        return google_credentials(self.__key, self.key_path, self.endpoint is not None)
