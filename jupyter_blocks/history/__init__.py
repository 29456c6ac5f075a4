"""Run history: the run store (``store``, its ``recorder`` and ``database``) and secret hiding.

Both load lightly: the default SQLite store uses the standard library, and the profile models
(pydantic) and YAML are imported only when a folder has an ``io_config.yaml`` to hide secrets of.
SQLAlchemy is imported for a store URL naming another database.
"""
