"""Cron, Daily and Weekly across the 2026 DST transitions, as tables written from the rule.

The rule (Vixie/ISC cron as Debian documents it): a job is fixed-time unless its minute or hour
field starts with ``*``. A fixed-time job whose wall time is skipped fires once, at the first real
instant after the gap; one whose wall time repeats fires at the first occurrence only. Every other
job fires at every real instant whose wall clock matches.

The 2026 transitions used (checked with zoneinfo, see `test_transitions_are_where_the_tables_say`):

=================== ======================= ==================================================
zone                UTC instant             wall clock
=================== ======================= ==================================================
Europe/Berlin       2026-03-29T01:00Z       02:00 CET -> 03:00 CEST, skips [02:00, 03:00)
Europe/Berlin       2026-10-25T01:00Z       03:00 CEST -> 02:00 CET, repeats [02:00, 03:00)
America/New_York    2026-03-08T07:00Z       02:00 EST -> 03:00 EDT, skips [02:00, 03:00)
America/New_York    2026-11-01T06:00Z       02:00 EDT -> 01:00 EST, repeats [01:00, 02:00)
Australia/Lord_Howe 2026-04-04T15:00Z       02:00 +11 -> 01:30 +10:30, repeats [01:30, 02:00)
Australia/Lord_Howe 2026-10-03T15:30Z       02:00 +10:30 -> 02:30 +11, skips [02:00, 02:30)
=================== ======================= ==================================================

The last rows are offset changes that fall on a UTC year's first instant (see
`test_zones.YEAR_BOUNDARY`). Every expected time below was worked out by hand from the rule;
`test_table_agrees_with_reference` re-derives each row with the brute-force reference in
``cron_reference.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

try:
    from .cron_reference import Spec, fire_times, parse, transitions
except ImportError:  # tests/schedules is not a package: pytest put this folder on sys.path
    from cron_reference import Spec, fire_times, parse, transitions  # type: ignore[no-redef]

BER, NYC, LHI, KOL = "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"
CASEY = "Antarctica/Casey"


def row(ident: str, sched: str, tz: str, start: str, *expected: str) -> Any:
    """`sched` is a cron expression, ``daily HH:MM`` or ``weekly DAYS HH:MM``."""
    return pytest.param(sched, tz, start, list(expected), id=ident)


ROWS = [
    # ---- Europe/Berlin, spring forward 2026-03-29T01:00Z: 02:xx does not exist -------------------
    row("ber-spring-fixed-in-gap", "30 2 * * *", BER, "2026-03-28T12:00:00Z",
        "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z"),
    row("ber-spring-fixed-start-1s-before-gap", "30 2 * * *", BER, "2026-03-29T00:59:59Z",
        "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"),
    row("ber-spring-fixed-start-at-transition", "30 2 * * *", BER, "2026-03-29T03:00:00+02:00",
        "2026-03-30T00:30:00Z"),
    row("ber-spring-fixed-start-just-after", "30 2 * * *", BER, "2026-03-29T01:00:00.000001Z",
        "2026-03-30T00:30:00Z"),
    row("ber-spring-fixed-four-in-gap-collapse", "0,15,30,45 2 * * *", BER, "2026-03-29T00:00:00Z",
        "2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z", "2026-03-30T00:15:00Z"),
    row("ber-spring-fixed-range-hour-collapses", "0-59 2 * * *", BER, "2026-03-29T00:00:00Z",
        "2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z", "2026-03-30T00:01:00Z"),
    row("ber-spring-fixed-0300-is-transition", "0 3 * * *", BER, "2026-03-29T00:00:00Z",
        "2026-03-29T01:00:00Z", "2026-03-30T01:00:00Z"),
    row("ber-spring-fixed-gap-and-0330", "30 2,3 * * *", BER, "2026-03-29T00:00:00Z",
        "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z", "2026-03-30T00:30:00Z"),
    row("ber-spring-fixed-gap-and-0300-once", "0 2,3 * * *", BER, "2026-03-29T00:00:00Z",
        "2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z", "2026-03-30T01:00:00Z"),
    row("ber-spring-fixed-last-sunday", "30 2 * * 0L", BER, "2026-03-20T00:00:00Z",
        "2026-03-29T01:00:00Z", "2026-04-26T00:30:00Z"),
    row("ber-spring-fixed-dom-29-march", "30 2 29 MAR *", BER, "2026-03-01T00:00:00Z",
        "2026-03-29T01:00:00Z"),
    row("ber-spring-hourly", "0 * * * *", BER, "2026-03-28T23:30:00Z",
        "2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"),
    row("ber-spring-hourly-alias", "@hourly", BER, "2026-03-29T00:30:00Z",
        "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"),
    row("ber-spring-every-15", "*/15 * * * *", BER, "2026-03-29T00:40:00Z",
        "2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:15:00Z"),
    row("ber-spring-every-minute-of-hour-2", "* 2 * * *", BER, "2026-03-28T12:00:00Z",
        "2026-03-30T00:00:00Z", "2026-03-30T00:01:00Z"),
    row("ber-spring-6f-fixed", "0 30 2 * * *", BER, "2026-03-28T12:00:00Z",
        "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"),
    row("ber-spring-6f-fixed-seconds-collapse", "*/20 30 2 * * *", BER, "2026-03-28T12:00:00Z",
        "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z", "2026-03-30T00:30:20Z"),
    row("ber-spring-6f-every-second-fixed", "* 30 2 * * *", BER, "2026-03-29T00:59:59Z",
        "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z", "2026-03-30T00:30:01Z"),
    row("ber-spring-6f-nonfixed-hour-2", "*/20 * 2 * * *", BER, "2026-03-28T12:00:00Z",
        "2026-03-30T00:00:00Z", "2026-03-30T00:00:20Z", "2026-03-30T00:00:40Z"),
    row("ber-spring-6f-every-30-min", "0 */30 * * * *", BER, "2026-03-29T00:45:00Z",
        "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"),
    row("ber-spring-daily", "daily 02:30", BER, "2026-03-28T12:00:00Z",
        "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"),
    row("ber-spring-daily-0300", "daily 03:00", BER, "2026-03-28T12:00:00Z",
        "2026-03-29T01:00:00Z", "2026-03-30T01:00:00Z"),
    row("ber-spring-weekly-sun", "weekly sun 02:30", BER, "2026-03-25T00:00:00Z",
        "2026-03-29T01:00:00Z", "2026-04-05T00:30:00Z"),
    # ---- Europe/Berlin, fall back 2026-10-25T01:00Z: 02:xx twice (00:xxZ, then 01:xxZ) ---------
    row("ber-fall-fixed", "30 2 * * *", BER, "2026-10-24T12:00:00Z",
        "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z", "2026-10-27T01:30:00Z"),
    row("ber-fall-fixed-start-first-pass-before", "30 2 * * *", BER, "2026-10-25T02:15:00+02:00",
        "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"),
    row("ber-fall-fixed-start-at-first-firing", "30 2 * * *", BER, "2026-10-25T02:30:00+02:00",
        "2026-10-26T01:30:00Z"),
    row("ber-fall-fixed-start-first-pass-after", "30 2 * * *", BER, "2026-10-25T02:45:00+02:00",
        "2026-10-26T01:30:00Z"),
    row("ber-fall-fixed-start-second-pass", "30 2 * * *", BER, "2026-10-25T02:15:00+01:00",
        "2026-10-26T01:30:00Z"),
    row("ber-fall-fixed-start-at-transition", "30 2 * * *", BER, "2026-10-25T01:00:00Z",
        "2026-10-26T01:30:00Z"),
    row("ber-fall-fixed-range-first-pass-only", "0-59 2 * * *", BER, "2026-10-25T00:58:00Z",
        "2026-10-25T00:59:00Z", "2026-10-26T01:00:00Z"),
    row("ber-fall-fixed-last-sunday", "30 2 * * 7L", BER, "2026-10-20T00:00:00Z",
        "2026-10-25T00:30:00Z", "2026-11-29T01:30:00Z"),
    row("ber-fall-hourly", "0 * * * *", BER, "2026-10-24T23:30:00Z",
        "2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"),
    row("ber-fall-every-15-first-pass", "*/15 * * * *", BER, "2026-10-25T02:40:00+02:00",
        "2026-10-25T00:45:00Z", "2026-10-25T01:00:00Z", "2026-10-25T01:15:00Z"),
    row("ber-fall-every-15-second-pass", "*/15 * * * *", BER, "2026-10-25T02:40:00+01:00",
        "2026-10-25T01:45:00Z", "2026-10-25T02:00:00Z"),
    row("ber-fall-6f-fixed", "0 30 2 * * *", BER, "2026-10-24T12:00:00Z",
        "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"),
    row("ber-fall-6f-fixed-start-second-pass", "0 30 2 * * *", BER, "2026-10-25T02:10:00+01:00",
        "2026-10-26T01:30:00Z"),
    row("ber-fall-6f-every-second-fixed", "* 30 2 * * *", BER, "2026-10-25T00:30:58Z",
        "2026-10-25T00:30:59Z", "2026-10-26T01:30:00Z"),
    row("ber-fall-6f-nonfixed-into-second-pass", "*/20 * 2 * * *", BER, "2026-10-25T00:59:30Z",
        "2026-10-25T00:59:40Z", "2026-10-25T01:00:00Z", "2026-10-25T01:00:20Z"),
    row("ber-fall-6f-nonfixed-end-of-second-pass", "*/20 * 2 * * *", BER, "2026-10-25T01:59:30Z",
        "2026-10-25T01:59:40Z", "2026-10-26T01:00:00Z", "2026-10-26T01:00:20Z"),
    row("ber-fall-daily", "daily 02:30", BER, "2026-10-24T12:00:00Z",
        "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"),
    row("ber-fall-daily-start-second-pass", "daily 02:30", BER, "2026-10-25T02:20:00+01:00",
        "2026-10-26T01:30:00Z"),
    row("ber-fall-weekly-sun", "weekly sun 02:30", BER, "2026-10-20T00:00:00Z",
        "2026-10-25T00:30:00Z", "2026-11-01T01:30:00Z"),
    # ---- America/New_York, spring forward 2026-03-08T07:00Z: 02:xx does not exist --------------
    row("nyc-spring-fixed-in-gap", "30 2 * * *", NYC, "2026-03-07T12:00:00Z",
        "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"),
    row("nyc-spring-fixed-start-1s-before-gap", "30 2 * * *", NYC, "2026-03-08T01:59:59-05:00",
        "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"),
    row("nyc-spring-fixed-start-at-transition", "30 2 * * *", NYC, "2026-03-08T03:00:00-04:00",
        "2026-03-09T06:30:00Z"),
    row("nyc-spring-fixed-second-sunday", "30 2 * * 0#2", NYC, "2026-03-01T00:00:00Z",
        "2026-03-08T07:00:00Z", "2026-04-12T06:30:00Z"),
    row("nyc-spring-hourly", "0 * * * *", NYC, "2026-03-08T05:30:00Z",
        "2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"),
    row("nyc-spring-every-15", "*/15 * * * *", NYC, "2026-03-08T06:50:00Z",
        "2026-03-08T07:00:00Z", "2026-03-08T07:15:00Z"),
    row("nyc-spring-6f-fixed", "0 30 2 * * *", NYC, "2026-03-07T12:00:00Z",
        "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"),
    row("nyc-spring-6f-nonfixed-hour-2", "*/20 * 2 * * *", NYC, "2026-03-07T12:00:00Z",
        "2026-03-09T06:00:00Z", "2026-03-09T06:00:20Z"),
    row("nyc-spring-daily", "daily 02:30", NYC, "2026-03-07T12:00:00Z",
        "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"),
    row("nyc-spring-weekly-sun", "weekly sun 02:30", NYC, "2026-03-02T00:00:00Z",
        "2026-03-08T07:00:00Z", "2026-03-15T06:30:00Z"),
    row("nyc-spring-weekly-mon-thu", "weekly mon,thu 02:30", NYC, "2026-03-08T00:00:00Z",
        "2026-03-09T06:30:00Z", "2026-03-12T06:30:00Z", "2026-03-16T06:30:00Z"),
    # ---- America/New_York, fall back 2026-11-01T06:00Z: 01:xx twice (05:xxZ, then 06:xxZ) ------
    row("nyc-fall-fixed", "30 1 * * *", NYC, "2026-10-31T12:00:00Z",
        "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"),
    row("nyc-fall-fixed-start-first-pass-after", "30 1 * * *", NYC, "2026-11-01T01:45:00-04:00",
        "2026-11-02T06:30:00Z"),
    row("nyc-fall-fixed-start-second-pass", "30 1 * * *", NYC, "2026-11-01T01:10:00-05:00",
        "2026-11-02T06:30:00Z"),
    row("nyc-fall-fixed-0200-after-repeat", "0 2 * * *", NYC, "2026-11-01T04:00:00Z",
        "2026-11-01T07:00:00Z", "2026-11-02T07:00:00Z"),
    row("nyc-fall-hourly", "0 * * * *", NYC, "2026-11-01T04:30:00Z",
        "2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z"),
    row("nyc-fall-every-15-second-pass", "*/15 * * * *", NYC, "2026-11-01T01:20:00-05:00",
        "2026-11-01T06:30:00Z", "2026-11-01T06:45:00Z", "2026-11-01T07:00:00Z"),
    row("nyc-fall-6f-fixed", "0 30 1 * * *", NYC, "2026-10-31T12:00:00Z",
        "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"),
    row("nyc-fall-6f-nonfixed-into-second-pass", "*/20 * 1 * * *", NYC, "2026-11-01T05:59:50Z",
        "2026-11-01T06:00:00Z", "2026-11-01T06:00:20Z"),
    row("nyc-fall-daily-start-second-pass", "daily 01:30", NYC, "2026-11-01T01:05:00-05:00",
        "2026-11-02T06:30:00Z"),
    row("nyc-fall-weekly-sun", "weekly sun 01:30", NYC, "2026-10-30T00:00:00Z",
        "2026-11-01T05:30:00Z", "2026-11-08T06:30:00Z"),
    # ---- Australia/Lord_Howe, back 30 min 2026-04-04T15:00Z: 01:30-01:59 twice -----------------
    row("lhi-fall-fixed", "45 1 * * *", LHI, "2026-04-04T00:00:00Z",
        "2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"),
    row("lhi-fall-fixed-start-second-pass", "45 1 * * *", LHI, "2026-04-05T01:35:00+10:30",
        "2026-04-05T15:15:00Z"),
    row("lhi-fall-half-hourly", "0,30 * * * *", LHI, "2026-04-04T13:50:00Z",
        "2026-04-04T14:00:00Z", "2026-04-04T14:30:00Z", "2026-04-04T15:00:00Z",
        "2026-04-04T15:30:00Z"),
    row("lhi-fall-hourly", "0 * * * *", LHI, "2026-04-04T13:50:00Z",
        "2026-04-04T14:00:00Z", "2026-04-04T15:30:00Z", "2026-04-04T16:30:00Z"),
    row("lhi-fall-every-15", "*/15 * * * *", LHI, "2026-04-04T14:50:00Z",
        "2026-04-04T15:00:00Z", "2026-04-04T15:15:00Z", "2026-04-04T15:30:00Z"),
    row("lhi-fall-6f-fixed", "0 45 1 * * *", LHI, "2026-04-04T00:00:00Z",
        "2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"),
    row("lhi-fall-6f-nonfixed", "*/20 * 1 * * *", LHI, "2026-04-04T14:59:30Z",
        "2026-04-04T14:59:40Z", "2026-04-04T15:00:00Z", "2026-04-04T15:00:20Z"),
    row("lhi-fall-weekly-sun", "weekly sun 01:45", LHI, "2026-03-30T00:00:00Z",
        "2026-04-04T14:45:00Z", "2026-04-11T15:15:00Z"),
    # ---- Australia/Lord_Howe, forward 30 min 2026-10-03T15:30Z: 02:00-02:29 do not exist -------
    row("lhi-spring-fixed-in-gap", "15 2 * * *", LHI, "2026-10-03T00:00:00Z",
        "2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"),
    row("lhi-spring-fixed-two-in-gap-collapse", "0,15 2 * * *", LHI, "2026-10-03T00:00:00Z",
        "2026-10-03T15:30:00Z", "2026-10-04T15:00:00Z", "2026-10-04T15:15:00Z"),
    row("lhi-spring-fixed-0230-is-transition", "30 2 * * *", LHI, "2026-10-03T00:00:00Z",
        "2026-10-03T15:30:00Z", "2026-10-04T15:30:00Z"),
    row("lhi-spring-fixed-gap-and-0230-once", "15,30 2 * * *", LHI, "2026-10-03T00:00:00Z",
        "2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z", "2026-10-04T15:30:00Z"),
    row("lhi-spring-fixed-first-sunday", "0 2 * * 0#1", LHI, "2026-09-20T00:00:00Z",
        "2026-10-03T15:30:00Z", "2026-10-31T15:00:00Z"),
    row("lhi-spring-hourly", "0 * * * *", LHI, "2026-10-03T14:00:00Z",
        "2026-10-03T14:30:00Z", "2026-10-03T16:00:00Z", "2026-10-03T17:00:00Z"),
    row("lhi-spring-every-15", "*/15 * * * *", LHI, "2026-10-03T15:20:00Z",
        "2026-10-03T15:30:00Z", "2026-10-03T15:45:00Z"),
    row("lhi-spring-6f-fixed", "0 15 2 * * *", LHI, "2026-10-03T00:00:00Z",
        "2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"),
    row("lhi-spring-6f-nonfixed", "*/20 * 2 * * *", LHI, "2026-10-03T15:29:50Z",
        "2026-10-03T15:30:00Z", "2026-10-03T15:30:20Z"),
    row("lhi-spring-daily", "daily 02:15", LHI, "2026-10-03T00:00:00Z",
        "2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"),
    row("lhi-spring-weekly-sun", "weekly sun 02:00", LHI, "2026-09-28T00:00:00Z",
        "2026-10-03T15:30:00Z", "2026-10-10T15:00:00Z"),
    # ---- controls: Asia/Kolkata (+05:30, no DST) and UTC on the same days ----------------------
    row("kol-fixed", "30 2 * * *", KOL, "2026-03-29T00:00:00Z",
        "2026-03-29T21:00:00Z", "2026-03-30T21:00:00Z"),
    row("kol-hourly", "0 * * * *", KOL, "2026-10-25T00:10:00Z",
        "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"),
    row("kol-every-15", "*/15 * * * *", KOL, "2026-03-08T06:50:00Z",
        "2026-03-08T07:00:00Z", "2026-03-08T07:15:00Z"),
    row("kol-6f-nonfixed", "*/20 * 2 * * *", KOL, "2026-11-01T20:59:50Z",
        "2026-11-01T21:00:00Z", "2026-11-01T21:00:20Z"),
    row("kol-daily", "daily 02:30", KOL, "2026-10-25T00:00:00Z", "2026-10-25T21:00:00Z"),
    row("utc-fixed", "30 2 * * *", "UTC", "2026-03-29T00:00:00Z",
        "2026-03-29T02:30:00Z", "2026-03-30T02:30:00Z"),
    row("utc-hourly", "0 * * * *", "UTC", "2026-10-25T00:30:00Z",
        "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"),
    row("utc-every-15", "*/15 * * * *", "UTC", "2026-11-01T05:50:00Z",
        "2026-11-01T06:00:00Z", "2026-11-01T06:15:00Z"),
    row("utc-6f-fixed", "0 30 2 * * *", "UTC", "2026-10-25T00:00:00Z",
        "2026-10-25T02:30:00Z", "2026-10-26T02:30:00Z"),
    row("utc-6f-nonfixed", "*/20 * 2 * * *", "UTC", "2026-10-25T01:59:50Z",
        "2026-10-25T02:00:00Z", "2026-10-25T02:00:20Z"),
    row("utc-weekly-sun", "weekly sun 02:30", "UTC", "2026-03-25T00:00:00Z",
        "2026-03-29T02:30:00Z", "2026-04-05T02:30:00Z"),
    # ---- offset changes on a UTC year's first instant (the zones were uninhabited, "-00", before)
    # Antarctica/Casey 1969-01-01T00:00Z: 00:00 -00 -> 08:00 +08, skips [00:00, 08:00)
    row("casey-1969-noon-after-the-change", "0 12 * * *", CASEY, "1968-12-31T12:00:00Z",
        "1969-01-01T04:00:00Z", "1969-01-02T04:00:00Z"),
    row("casey-1969-fixed-in-gap", "30 3 * * *", CASEY, "1968-12-31T12:00:00Z",
        "1969-01-01T00:00:00Z", "1969-01-01T19:30:00Z"),
    row("casey-1969-hourly", "0 * * * *", CASEY, "1968-12-31T23:30:00Z",
        "1969-01-01T00:00:00Z", "1969-01-01T01:00:00Z"),
    # Africa/Niamey 1960-01-01T00:00Z: 00:00 GMT -> 01:00 WAT, skips [00:00, 01:00)
    row("niamey-1960-fixed-in-gap", "daily 00:30", "Africa/Niamey", "1959-12-31T12:00:00Z",
        "1960-01-01T00:00:00Z", "1960-01-01T23:30:00Z"),
    # America/Inuvik 1953-01-01T00:00Z: 00:00 -00 -> 16:00 PST on Dec 31, repeats [16:00, 24:00)
    row("inuvik-1953-fixed-in-repeat", "0 20 * * *", "America/Inuvik", "1952-12-31T12:00:00Z",
        "1952-12-31T20:00:00Z", "1953-01-02T04:00:00Z"),
    row("inuvik-1953-nonfixed-in-repeat", "0 */4 * * *", "America/Inuvik", "1952-12-31T19:00:00Z",
        "1952-12-31T20:00:00Z", "1953-01-01T00:00:00Z", "1953-01-01T04:00:00Z",
        "1953-01-01T08:00:00Z"),
]  # fmt: skip

FIXED_TIME = [
    ("30 2 * * *", True),
    ("0 3 * * *", True),
    ("0-59 2 * * *", True),
    ("0,30 1-3 * * *", True),
    ("0 0 1 1 *", True),
    ("0 * * * *", False),
    ("*/15 * * * *", False),
    ("* 2 * * *", False),
    ("0 */2 * * *", False),
    ("0 30 2 * * *", True),
    ("* 30 2 * * *", True),
    ("*/20 30 2 * * *", True),
    ("*/20 * 2 * * *", False),
    ("0 30 * * * *", False),
    ("@hourly", False),
    ("@daily", True),
    ("@midnight", True),
    ("@weekly", True),
    ("@monthly", True),
    ("@yearly", True),
    ("@annually", True),
]


def build(sched: str, tz: str) -> Any:
    from rota.schedules import Cron, Daily, Weekly

    kind, _, rest = sched.partition(" ")
    if kind == "daily":
        return Daily(rest, tz=tz)
    if kind == "weekly":
        days, at = rest.split()
        return Weekly(days, at, tz=tz)
    return Cron(sched, tz=tz)


def reference_spec(sched: str) -> Spec:
    kind, _, rest = sched.partition(" ")
    if kind == "daily":
        hour, minute = rest.split(":")
        return parse(f"{int(minute)} {int(hour)} * * *", fixed=True)
    if kind == "weekly":
        days, at = rest.split()
        hour, minute = at.split(":")
        return parse(f"{int(minute)} {int(hour)} * * {days}", fixed=True)
    return parse(sched)


def instant(text: str) -> datetime:
    t = datetime.fromisoformat(text)
    assert t.tzinfo is not None
    return t


def check_result(result: datetime | None, tz: str, after: datetime) -> datetime:
    """`result` is aware, in the schedule's zone at its real offset, and strictly after `after`."""
    assert result is not None
    assert result.tzinfo is not None, result
    real = result.astimezone(ZoneInfo(tz))
    assert result.utcoffset() == real.utcoffset(), f"{result} has not {tz}'s offset {real}"
    assert result.replace(tzinfo=None) == real.replace(tzinfo=None), f"{result} is not {real}"
    assert result > after
    return result.astimezone(UTC)


@pytest.mark.parametrize(("sched", "tz", "start", "expected"), ROWS)
@pytest.mark.parametrize("start_as", ["given", "utc", "zone"])
def test_fire_times(sched: str, tz: str, start: str, expected: list[str], start_as: str) -> None:
    t = instant(start)
    if start_as == "utc":
        t = t.astimezone(UTC)
    elif start_as == "zone":
        t = t.astimezone(ZoneInfo(tz))  # sets fold=1 in a second pass
    schedule = build(sched, tz)
    got: list[str] = []
    cursor: datetime = t
    for _ in expected:
        cursor = check_result(schedule.next_after(cursor), tz, cursor)
        got.append(cursor.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert got == expected


@pytest.mark.parametrize(("sched", "tz", "start", "expected"), ROWS)
def test_table_agrees_with_reference(sched: str, tz: str, start: str, expected: list[str]) -> None:
    t = instant(start)
    end = instant(expected[-1])
    got = fire_times(reference_spec(sched), tz, t, end, len(expected))
    assert [g.strftime("%Y-%m-%dT%H:%M:%SZ") for g in got] == expected


@pytest.mark.parametrize(("expression", "fixed"), FIXED_TIME, ids=[e for e, _ in FIXED_TIME])
def test_fixed_time(expression: str, fixed: bool) -> None:
    from rota.schedules import Cron

    assert Cron(expression, tz="UTC").fixed_time is fixed
    assert parse(expression).fixed is fixed


def test_daily_and_weekly_are_fixed_time() -> None:
    assert build("daily 02:30", BER).fixed_time is True
    assert build("weekly mon,thu 02:30", BER).fixed_time is True


@pytest.mark.parametrize(
    ("tz", "utc", "before", "after"),
    [
        (BER, "2026-03-29T01:00:00Z", 60, 120),
        (BER, "2026-10-25T01:00:00Z", 120, 60),
        (NYC, "2026-03-08T07:00:00Z", -300, -240),
        (NYC, "2026-11-01T06:00:00Z", -240, -300),
        (LHI, "2026-04-04T15:00:00Z", 660, 630),
        (LHI, "2026-10-03T15:30:00Z", 630, 660),
    ],
)
def test_transitions_are_where_the_tables_say(tz: str, utc: str, before: int, after: int) -> None:
    t = instant(utc)
    zone = ZoneInfo(tz)
    assert (t - timedelta(seconds=1)).astimezone(zone).utcoffset() == timedelta(minutes=before)
    assert t.astimezone(zone).utcoffset() == timedelta(minutes=after)
    assert t in transitions(tz)
    assert [x for x in transitions(tz) if x.year == 2026] != []
    assert not transitions(KOL)
    assert not transitions("UTC")
