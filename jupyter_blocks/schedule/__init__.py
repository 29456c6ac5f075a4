"""Scheduling: triggers, their ticks, backfill intervals, the ``%%pipeline`` cell and alerts.

The modules here are pure (every time is an argument, nothing reads a clock or a run store) and
are put together by the scheduler and the run assembly:

- ``triggers``: Mage's trigger model, with ``catchup`` and ``timezone``;
- ``ticks``: when a trigger fires, which ticks are due, what a tick's run covers;
- ``intervals``: backfill intervals and the run variables of an interval;
- ``notifications``: Mage's ``notification_config`` model;
- ``alerts``: alert messages and their delivery;
- ``settings``: the ``%%pipeline`` cell;
- ``triggers_file``: ``triggers.yaml`` and ``metadata.yaml``'s part, as Mage writes them.
"""
