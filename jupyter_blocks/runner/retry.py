"""Retries: how long to wait after a failed attempt, from a block's retry options.

What belongs here: :func:`retry_wait`, the one place the wait between attempts is computed, from
``--retries``, ``--retry-delay``, ``--max-retry-delay`` and ``--exponential-backoff`` (Mage's
``retry_config``: ``retries``, ``delay``, ``max_delay``, ``exponential_backoff``).

The waits are ``delay``, then doubled after each retry (``exponential_backoff``, the default),
each one at most ``max_delay``; every one of the ``retries`` is attempted. Mage reads
``max_delay`` differently: it stops retrying once the waits so far plus the next would reach
``max_delay`` (with its defaults, 5 s doubling and 60 s, ``retries: 5`` gives 4 attempts). Here
``retries`` means the number of retries a user asked for, and ``max_delay`` bounds each wait,
as Airflow's ``max_retry_delay`` does; the export of a block whose retries Mage would cut short
says so.
"""

from __future__ import annotations

from jupyter_blocks.core.block import BlockSpec


def retry_wait(spec: BlockSpec, failed_attempt: int) -> float | None:
    """Seconds to wait after attempt ``failed_attempt`` (1-based) failed; None: no more tries."""
    if failed_attempt > spec.retries:
        return None
    wait = spec.retry_delay
    if spec.exponential_backoff is not False:
        wait *= 2 ** (failed_attempt - 1)
    if spec.max_retry_delay is not None:
        wait = min(wait, spec.max_retry_delay)
    return wait
