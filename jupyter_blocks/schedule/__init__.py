"""Orchestration in time: when triggers fire, backfill intervals, and alerts.

The modules here are pure (every time is an argument, nothing reads a clock) unless they say
otherwise; the models they read (triggers, ``notification_config``, the ``%%pipeline`` cell) are
the project's file contract and live in ``project``:

- ``ticks``: when a trigger fires, which ticks are due, what a tick's run covers;
- ``intervals``: backfill intervals and the run variables of an interval;
- ``summary``: the readable summary of a ``%%pipeline`` cell;
- ``alerts`` and ``webhooks``: alert messages and their delivery.
"""
