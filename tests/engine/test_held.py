"""Notices heard while the engine starts are held, each once, until its job table is ready."""

from __future__ import annotations

from rota.engine.held import HeldNotices


def test_notices_pass_on_at_once_unless_held() -> None:
    acted: list[str] = []
    notices = HeldNotices(acted.append)
    notices.heard("job:a")
    assert acted == ["job:a"]


def test_held_notices_pass_on_each_once_in_order_at_release() -> None:
    acted: list[str] = []
    notices = HeldNotices(acted.append)
    notices.hold()
    for notice in ["job:a", "run:7", "job:a", "cancel:3:stop", "run:7"]:
        notices.heard(notice)
    assert acted == []
    notices.release()
    assert acted == ["job:a", "run:7", "cancel:3:stop"]
    notices.heard("job:a")
    assert acted == ["job:a", "run:7", "cancel:3:stop", "job:a"]
