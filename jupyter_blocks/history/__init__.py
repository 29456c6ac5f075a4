"""Run history: the run store (``store``, SQLAlchemy) and hiding known secrets (``redact``).

Both load lazily: SQLAlchemy and the profile models are imported when a run is first recorded.
"""
