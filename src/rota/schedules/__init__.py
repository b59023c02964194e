"""When jobs fire: pure, immutable schedule values, their text grammar and a preview.

Every schedule has ``next_after(t)``, ``text``, ``describe()``, ``to_dict()`` and
``Schedule.from_dict()``. Wall-clock schedules (`Cron`, `Daily`, `Weekly`) follow the Vixie/ISC DST
rule described in `rota.schedules.zoned`.
"""

from rota.schedules.base import Schedule
from rota.schedules.calendar import Cron, Daily, Weekly
from rota.schedules.durations import format_duration, parse_duration
from rota.schedules.preview import Preview, preview
from rota.schedules.simple import After, Interval, Manual, Once
from rota.schedules.text import parse, to_schedule
from rota.schedules.zones import default_zone

__all__ = [
    "After",
    "Cron",
    "Daily",
    "Interval",
    "Manual",
    "Once",
    "Preview",
    "Schedule",
    "Weekly",
    "default_zone",
    "format_duration",
    "parse",
    "parse_duration",
    "preview",
    "to_schedule",
]
