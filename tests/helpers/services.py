"""Helpers for tests that need a real service (PostgreSQL, the GCS or BigQuery emulators, Chromium).

On a developer's machine without the service such a test is skipped with a message that says how
to enable it. CI sets ``JUPYTER_BLOCKS_REQUIRE_SERVICES=1``, which turns every such skip into a
failure, so CI always runs them.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REQUIRE_ENV = "JUPYTER_BLOCKS_REQUIRE_SERVICES"


def services_required() -> bool:
    """Whether a missing service must fail the test run instead of skipping."""
    return os.environ.get(REQUIRE_ENV, "").lower() in {"1", "true", "yes"}


def unavailable(service: str, how_to_enable: str) -> NoReturn:
    """Skip (or, under CI, fail) a test because ``service`` is not available."""
    message = f"{service} is not available: {how_to_enable}"
    if services_required():
        pytest.fail(f"{message} ({REQUIRE_ENV} is set, so this is a failure)", pytrace=False)
    pytest.skip(message)
