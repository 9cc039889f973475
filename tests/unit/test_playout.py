"""Twilio's playback queue for a bidirectional stream: what plays when, which marks come back."""

from __future__ import annotations

from callscribe_local.playout import Playout


def test_a_mark_comes_back_only_once_the_audio_before_it_has_played() -> None:
    playout = Playout()
    playout.media(b"a" * 300)
    playout.mark("first")
    playout.media(b"b" * 100)
    playout.mark("second")

    played = playout.play(160)
    assert (played.audio, played.marks) == (b"a" * 160, ())
    played = playout.play(160)  # the rest of "a", its mark, then "b" begins in the same stretch
    assert (played.audio, played.marks) == (b"a" * 140 + b"b" * 20, ("first",))
    played = playout.play(160)  # the queue runs dry: less audio than asked for, the last mark back
    assert (played.audio, played.marks) == (b"b" * 80, ("second",))
    assert playout.idle
    assert playout.played_bytes == playout.received_bytes == 400


def test_a_mark_at_the_exact_end_of_a_stretch_comes_back_with_it() -> None:
    playout = Playout()
    playout.media(b"a" * 160)
    playout.mark("done")
    assert playout.play(160).marks == ("done",)


def test_a_mark_with_no_audio_before_it_comes_back_at_once() -> None:
    playout = Playout()
    playout.mark("empty")
    played = playout.play(160)
    assert (played.audio, played.marks) == (b"", ("empty",))


def test_clear_drops_the_queued_audio_and_echoes_every_pending_mark_in_order() -> None:
    playout = Playout()
    playout.media(b"a" * 1000)
    playout.mark("one")
    playout.media(b"b" * 1000)
    playout.mark("two")
    playout.play(400)

    cleared = playout.clear()
    assert cleared.dropped_bytes == 1600
    assert cleared.marks == ("one", "two")
    assert playout.idle
    assert playout.play(160).audio == b""
    # what comes after the clear plays as new
    playout.media(b"c" * 10)
    playout.mark("three")
    assert playout.play(160).marks == ("three",)
