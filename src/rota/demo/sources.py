"""Stand-ins for the world outside the demo's media server: its user accounts, the plays its
clients report, what the metadata source (TMDb, served by `tmdb`) knows and when its gateway
gives up, and indexers that find wanted titles. All deterministic: each answer is drawn from
the library's seed and the question.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "GATEWAY_TIMEOUTS",
    "GENRES",
    "Account",
    "Details",
    "gateway_times_out",
    "invented_details",
    "invented_title",
    "iso",
    "new_plays",
    "poster_colours",
    "searches_to_find",
    "server_accounts",
    "user_name",
]

GENRES = (
    "Action",
    "Adventure",
    "Animation",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Horror",
    "Mystery",
    "Romance",
    "Science Fiction",
)
_ADJECTIVES = [
    "Silent",
    "Golden",
    "Last",
    "Hidden",
    "Broken",
    "Northern",
    "Crimson",
    "Distant",
    "Burning",
    "Frozen",
    "Lost",
    "Electric",
    "Wild",
    "Quiet",
    "Secret",
    "Midnight",
    "Hollow",
    "Iron",
    "Paper",
    "Glass",
    "Velvet",
    "Final",
    "Bright",
    "Lonely",
]
_NOUNS = [
    "Harbor",
    "Garden",
    "Empire",
    "Signal",
    "River",
    "Station",
    "Kingdom",
    "Horizon",
    "Orchard",
    "Machine",
    "Winter",
    "Letter",
    "Island",
    "Mirror",
    "Frontier",
    "Lantern",
    "Voyage",
    "Circus",
    "Archive",
    "Forest",
    "Comet",
    "Canyon",
    "Tide",
    "Engine",
]
_NAMES = [
    "ada",
    "ben",
    "chloe",
    "dev",
    "emil",
    "farah",
    "gus",
    "hana",
    "ivo",
    "jun",
    "kai",
    "lena",
    "milo",
    "nora",
    "otto",
    "pia",
    "quinn",
    "rosa",
    "sami",
    "tess",
    "umar",
    "vera",
    "wim",
    "xena",
    "yusuf",
    "zoe",
]
_SUBJECTS = (
    "a family",
    "an archivist",
    "two strangers",
    "a detective",
    "a ship's crew",
    "a small town",
    "a scientist",
    "an old friend",
    "a machine",
    "a city",
)


def iso(instant: datetime) -> str:
    """An instant as the library keeps it: UTC, always with microseconds (so text order is
    time order)."""
    return instant.astimezone(UTC).isoformat(timespec="microseconds")


def invented_title(rng: random.Random) -> str:
    """A plausible title."""
    adjective, noun, other = rng.choice(_ADJECTIVES), rng.choice(_NOUNS), rng.choice(_NOUNS)
    return rng.choice(
        (f"The {adjective} {noun}", f"{noun} of the {adjective} {other}", f"{adjective} {noun}")
    )


def user_name(number: int) -> str:
    """The name of the media server's account `number` (1, 2, ...)."""
    base = _NAMES[(number - 1) % len(_NAMES)]
    return base if number <= len(_NAMES) else f"{base}{(number - 1) // len(_NAMES) + 1}"


@dataclass(frozen=True)
class Details:
    """What the metadata source knows of a title."""

    tmdb_id: int
    overview: str
    rating: float


def invented_details(seed: int, title_id: int, refresh: int = 0) -> Details:
    """The metadata source's details of a title; a `refresh` later, the rating has moved a
    little (as ratings do), so that refreshes change something."""
    rng = random.Random(f"{seed}:details:{title_id}")
    words = rng.sample(_SUBJECTS, 3)
    overview = f"When {words[0]} meets {words[1]}, {words[2]} is never the same."
    rating = round(min(9.8, max(2.0, rng.gauss(6.6, 1.2))), 1)
    if refresh:
        drift = random.Random(f"{seed}:drift:{title_id}:{refresh}").choice((-0.1, 0.0, 0.1))
        rating = round(min(9.8, max(2.0, rating + drift)), 1)
    return Details(tmdb_id=10_000 + title_id * 7, overview=overview, rating=rating)


GATEWAY_TIMEOUTS = 0.025  # about a third of the metadata job's runs of ~15 requests meet one


def gateway_times_out(seed: int, path: str, asked: int) -> bool:
    """Whether the metadata source's gateway gives up on the `asked`-th request for `path`:
    about one request in 40, the same ones each time the same questions are asked."""
    return random.Random(f"{seed}:gateway:{path}:{asked}").random() < GATEWAY_TIMEOUTS


def poster_colours(seed: int, title_id: int) -> tuple[str, str]:
    """A title's poster colours (background, figure), as CSS hex colours."""
    rng = random.Random(f"{seed}:poster:{title_id}")
    dark = "#{:02x}{:02x}{:02x}".format(*(rng.randint(20, 90) for _ in range(3)))
    light = "#{:02x}{:02x}{:02x}".format(*(rng.randint(140, 240) for _ in range(3)))
    return dark, light


@dataclass(frozen=True)
class Account:
    """A user account as the media server reports it."""

    number: int
    name: str
    active: bool


def server_accounts(seed: int, version: int, base: int) -> list[Account]:
    """The media server's accounts at its `version`-th sync: the `base` accounts of the first
    start, one more every fourth sync (up to twice as many), and now and then one disabled."""
    count = min(2 * base, base + version // 4)
    rng = random.Random(f"{seed}:accounts:{version}")
    disabled = rng.randint(1, count) if count and rng.random() < 0.3 else None
    return [Account(n, user_name(n), n != disabled) for n in range(1, count + 1)]


def new_plays(
    seed: int, batch: int, users: list[int], titles: list[int], since: datetime, until: datetime
) -> list[tuple[int, int, datetime, float]]:
    """The plays (user, title, when, part watched) the media server's clients reported between
    `since` and `until`: a few dozen per import, in time order."""
    if not users or not titles or until <= since:
        return []
    rng = random.Random(f"{seed}:plays:{batch}")
    span = (until - since).total_seconds()
    plays = [
        (
            rng.choice(users),
            rng.choice(titles),
            since + (until - since) * (rng.uniform(0, span) / span),
            rng.choice((1.0, 1.0, 0.9, 0.5, 0.2)),
        )
        for _ in range(rng.randint(20, 60))
    ]
    return sorted(plays, key=lambda play: play[2])


def searches_to_find(seed: int, title_id: int) -> int:
    """How many searches the indexers need before one has a wanted title: 50-400."""
    return random.Random(f"{seed}:search:{title_id}").randint(50, 400)
