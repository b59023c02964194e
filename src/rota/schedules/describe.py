"""Human descriptions of cron fields: "At 02:30 every day", "Every 15 minutes on Monday"."""

from __future__ import annotations

import calendar
import re

__all__ = ["describe_cron", "join_words", "weekday_names"]

_STEP = re.compile(r"(\*|\d+|\d+-\d+)/(\d+)")
MONTHS = list(calendar.month_name)  # index 1..12
WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}
MONDAY_FIRST = [1, 2, 3, 4, 5, 6, 0]


def join_words(words: list[str]) -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"``."""
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _runs(values: list[int], names: list[str]) -> str:
    """Named values in the given order, three or more consecutive ones as "A through C"."""
    parts: list[str] = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        if j - i >= 2:
            parts.append(f"{names[values[i]]} through {names[values[j]]}")
        else:
            parts.extend(names[v] for v in values[i : j + 1])
        i = j + 1
    return join_words(parts)


def weekday_names(days: list[int]) -> str:
    """Cron weekday numbers (Sunday 0) as words, Monday first: "Monday through Friday"."""
    ordered = [d for d in MONDAY_FIRST if d in set(days)]
    positions = [MONDAY_FIRST.index(d) for d in ordered]
    names = [WEEKDAYS[d] for d in MONDAY_FIRST]
    return _runs(positions, names)


def _items(text: str, unit: str) -> str:
    """A generic field as words: "5", "1 through 5", "every 10th from 0 through 30"."""
    words = []
    for item in text.split(","):
        if match := _STEP.fullmatch(item):
            base, step = match[1], int(match[2])
            span = "" if base == "*" else f" from {base.replace('-', ' through ')}"
            words.append(f"every {_ordinal(step)} {unit}{span}")
        else:
            words.append(item.replace("-", " through "))
    return join_words(words)


def _is_clock_time(minute: str, hour: str) -> bool:
    """Whether the time reads as clock times: "At 02:30 and 14:30"."""
    hours = hour.split(",")
    return minute.isdigit() and all(h.isdigit() for h in hours) and len(hours) <= 6


def _time_part(second: str, minute: str, hour: str, has_seconds: bool) -> str:
    sec = "" if not has_seconds or second == "0" else second
    if sec and not sec.isdigit():
        if sec == "*":
            lead = "Every second"
        elif (m := _STEP.fullmatch(sec)) and m[1] == "*":
            lead = f"Every {m[2]} seconds"
        else:
            lead = f"At second {_items(sec, 'second')}"
        rest = _time_part("0", minute, hour, False)
        return f"{lead}, {rest[0].lower()}{rest[1:]}" if rest != "At 00:00" else lead
    hours = hour.split(",")
    if _is_clock_time(minute, hour):
        seconds = f":{int(sec):02d}" if sec else ""
        return "At " + join_words([f"{int(h):02d}:{int(minute):02d}{seconds}" for h in hours])
    sec_words = f"second {int(sec)} of " if sec else ""
    if hour == "*":
        if minute == "*":
            return "Every minute"
        if (m := _STEP.fullmatch(minute)) and m[1] == "*":
            return f"Every {m[2]} minutes"
        if minute == "0" and not sec:
            return "Every hour"
        return f"At {sec_words}minute {_items(minute, 'minute')} past every hour"
    if (m := _STEP.fullmatch(hour)) and m[1] == "*" and minute.isdigit():
        return f"At {sec_words}minute {int(minute)} past every {m[2]} hours"
    if re.fullmatch(r"\d+(-\d+)?", hour):
        first, _, last = hour.partition("-")
        window = f"from {int(first):02d}:00 to {int(last or first):02d}:59"
        if minute == "*":
            return f"Every minute {window}"
        if (m := _STEP.fullmatch(minute)) and m[1] == "*":
            return f"Every {m[2]} minutes {window}"
    return f"At {sec_words}minute {_items(minute, 'minute')} past hour {_items(hour, 'hour')}"


def _day_of_month_part(text: str) -> str:
    plain: list[str] = []
    special: list[str] = []
    for item in text.split(","):
        upper = item.upper()
        if upper == "L":
            special.append("the last day of the month")
        elif upper in ("LW", "WL"):
            special.append("the last weekday of the month")
        elif upper.endswith("W"):
            special.append(f"the weekday nearest day {int(item[:-1])} of the month")
        else:
            plain.append(item)
    if plain:
        joined = ",".join(plain)
        noun = "day" if len(plain) == 1 and plain[0].isdigit() else "days"
        special.insert(0, f"{noun} {_items(joined, 'day')} of the month")
    return join_words(special)


def _day_of_week_part(text: str) -> str:
    plain: set[int] = set()
    special: list[str] = []
    for item in text.split(","):
        if "#" in item:
            day, count = item.split("#")
            special.append(f"the {ORDINALS[int(count)]} {WEEKDAYS[_weekday(day)]} of the month")
        elif item.upper().endswith("L"):
            special.append(f"the last {WEEKDAYS[_weekday(item[:-1])]} of the month")
        else:
            plain.update(_expand_weekdays(item))
    if plain:
        special.insert(0, "every day" if len(plain) == 7 else weekday_names(sorted(plain)))
    return join_words(special)


def _weekday(token: str) -> int:
    if token.isdigit():
        return int(token) % 7
    return [w[:3].lower() for w in WEEKDAYS].index(token.lower())


def _expand_weekdays(item: str) -> list[int]:
    base, _, step = item.partition("/")
    if base in ("*", "?"):
        first, last = 0, 6
    elif "-" in base:
        a, b = base.split("-")
        first, last = _weekday(a), _weekday(b)
        if (last == 0 and first > 0) or b == "7":
            last = 7
    else:
        first = _weekday(base)
        last = 6 if step else first
    return [d % 7 for d in range(first, last + 1, int(step or 1))]


def _month_part(text: str) -> str:
    months: set[int] = set()
    names = [m[:3].lower() for m in MONTHS]
    for item in text.split(","):
        base, _, step = item.partition("/")
        bounds = ["1", "12"] if base == "*" else base.split("-")
        values = [int(v) if v.isdigit() else names.index(v.lower()) for v in bounds]
        first, last = values[0], values[-1] if len(values) > 1 or not step else 12
        months.update(range(first, last + 1, int(step or 1)))
    return _runs(sorted(months), MONTHS)


def describe_cron(fields: list[str], has_seconds: bool) -> str:
    """Words for six cron fields (second first), without the time zone."""
    second, minute, hour, dom, month, dow = fields
    words = _time_part(second, minute, hour, has_seconds)
    dom_star, dow_star = dom in ("*", "?"), dow in ("*", "?")
    if dom_star and dow_star:
        days = "every day" if _is_clock_time(minute, hour) else ""
    elif dow_star:
        days = f"on {_day_of_month_part(dom)}"
    elif dom_star:
        days = f"on {_day_of_week_part(dow)}"
    elif dom.startswith("*") or dow.startswith("*"):
        days = f"on {_day_of_month_part(dom)} if it is also {_day_of_week_part(dow)}"
    else:
        days = f"on {_day_of_month_part(dom)} or on {_day_of_week_part(dow)}"
    if month != "*":
        days = f"{days} in {_month_part(month)}".strip()
    return f"{words} {days}".strip()
