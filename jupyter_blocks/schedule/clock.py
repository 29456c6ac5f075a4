"""The scheduler's clock: the real time, or one moved and sped up for tests and dry runs.

What belongs here: :class:`Clock` and ``$JUPYTER_BLOCKS_CLOCK``, which sets where a
scheduler's clock starts (``2024-01-15T04:59:58Z``) and how fast it runs (``... x60``).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass, field

from jupyter_blocks.core.errors import ConfigError

#: ``$JUPYTER_BLOCKS_CLOCK``: the time the scheduler's clock starts at, for tests and dry runs
#: (``2024-01-15T04:59:58Z``; ``2024-01-15T04:59:58Z x60`` also runs it 60 times faster).
CLOCK_ENV = "JUPYTER_BLOCKS_CLOCK"
_UTC = dt.timezone.utc


@dataclass
class Clock:
    """The scheduler's time: real, or starting at ``start`` and running ``speed`` times faster.

    Attributes:
        start: What the clock reads at ``origin`` (None: the real time).
        speed: How many clock seconds pass per real second.
        origin: The real time (epoch seconds) at which the clock read ``start``.
    """

    start: dt.datetime | None = None
    speed: float = 1.0
    origin: float = field(default_factory=time.time)

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Clock:
        """The clock ``$JUPYTER_BLOCKS_CLOCK`` asks for, else the real one."""
        text = (environ if environ is not None else dict(os.environ)).get(CLOCK_ENV, "").strip()
        if not text:
            return cls()
        moment, _, speed = text.partition(" x")
        try:
            start = dt.datetime.fromisoformat(moment.strip().replace("Z", "+00:00"))
            factor = float(speed) if speed else 1.0
        except ValueError:
            raise ConfigError(f"${CLOCK_ENV} must be a time like 2024-01-15T04:59:58Z, "
                              f"optionally followed by a speed like x60; got {text!r}") from None
        if factor <= 0:
            raise ConfigError(f"${CLOCK_ENV}: the speed must be positive, got {speed}")
        return cls(start if start.tzinfo else start.replace(tzinfo=_UTC), factor)

    def now(self) -> dt.datetime:
        """The current time, aware, in UTC."""
        if self.start is None:
            return dt.datetime.now(_UTC)
        return self.start + dt.timedelta(seconds=(time.time() - self.origin) * self.speed)

    def epoch(self, moment: dt.datetime) -> float:
        """The real time (``time.time()``) at which this clock reads ``moment``."""
        if self.start is None:
            return moment.timestamp()
        return self.origin + (moment - self.start).total_seconds() / self.speed

    def real_seconds(self, seconds: float) -> float:
        """Real seconds in which ``seconds`` pass on this clock."""
        return seconds / self.speed
