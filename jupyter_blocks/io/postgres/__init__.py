"""PostgreSQL: the connector, its type mapping, bulk loads and queries with upstream frames.

``connector``: :class:`Postgres`; ``types``: Arrow <-> PostgreSQL column types; ``copy``: bulk
loads through binary COPY; ``query``: upstream frames as temporary tables for SQL blocks.
"""

from __future__ import annotations

from jupyter_blocks.io.postgres.connector import Postgres

__all__ = ["Postgres"]
