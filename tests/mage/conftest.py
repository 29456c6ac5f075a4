"""Fixtures for the tests that run exported pipelines under real Mage 0.9.80.

Mage lives in its own virtualenv (``.venvs/mage``, made by ``scripts/setup_mage.sh``, which
``scripts/test.sh`` runs); without it these tests skip, or fail under
JUPYTER_BLOCKS_REQUIRE_SERVICES=1. Each exported pipeline is run under Mage once per session
(a Mage run costs seconds of start-up), and every test reads that one run.
"""

from __future__ import annotations

import pytest

from tests.helpers.services import unavailable
from tests.mage.harness import mage_problem


@pytest.fixture(scope="session")
def mage() -> None:
    """Mage 0.9.80 with this checkout's jupyter-blocks, in ``.venvs/mage``."""
    problem = mage_problem()
    if problem is not None:
        unavailable("Mage 0.9.80", f"{problem}; run `bash scripts/setup_mage.sh`")
