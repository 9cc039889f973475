"""Synthesise the bundled demo conversation into callscribe_local/audio/ (caller.ulaw, callee.ulaw).

The demo must show real words without borrowing anyone's recording, so the project makes its own
two-speaker support call with Debian's `flite` (two different voices) and `sox`, then lays the turns
out on two time-aligned tracks the way Twilio's `both_tracks` stream delivers them: while one party
talks, the other track carries silence. Output is headerless 8 kHz mu-law, the Media Streams format.

Only needed to regenerate the audio (`apt-get install -y flite sox`); the demo itself never runs it.
Usage: python scripts/make_demo_audio.py [--out callscribe_local/audio]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # stdlib up to 3.12; the audioop-lts backport on 3.13+

RATE = 8000
SAMPLE_WIDTH = 2
LEAD_IN = 0.6  # seconds of silence before the first word (the call has just connected)
GAP = 0.7  # pause between turns: longer than the recogniser's end-of-speech window
TAIL = 1.0

VOICES = {"caller": "awb", "callee": "rms"}
TRACKS = {"caller": "inbound", "callee": "outbound"}


@dataclass(frozen=True)
class Turn:
    speaker: str
    text: str


CONVERSATION = (
    Turn("caller", "Hi, I am calling about my delivery. It is scheduled for tomorrow morning, "
                   "but I will not be home."),
    Turn("callee", "No problem, I can help with that. Can I have your order number, please?"),
    Turn("caller", "Yes, it is four five seven two."),
    Turn("callee", "Thank you. I can move the delivery to Friday afternoon. Does that work for you?"),
    Turn("caller", "Friday afternoon is perfect. Thank you very much."),
    Turn("callee", "You are welcome. You will get a text message to confirm. Goodbye."),
)


def synthesise(turn: Turn, workdir: Path, index: int) -> bytes:
    """One turn as 8 kHz 16-bit mono PCM (flite speaks at 8 or 16 kHz; sox resamples and normalises)."""
    wav = workdir / f"turn{index}.wav"
    raw = workdir / f"turn{index}.raw"
    subprocess.run(["flite", "-voice", VOICES[turn.speaker], "-t", turn.text, "-o", str(wav)], check=True)  # noqa: S603, S607
    subprocess.run(  # noqa: S603
        ["sox", str(wav), "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer", "-t", "raw",  # noqa: S607
         str(raw), "gain", "-n", "-3"],
        check=True,
    )
    return raw.read_bytes()


def silence(seconds: float) -> bytes:
    return b"\x00\x00" * round(seconds * RATE)


def build(out: Path) -> dict[str, object]:
    for tool in ("flite", "sox"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed: apt-get install -y flite sox")
    tracks = {"caller": bytearray(silence(LEAD_IN)), "callee": bytearray(silence(LEAD_IN))}
    timeline: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for index, turn in enumerate(CONVERSATION):
            speech = synthesise(turn, Path(tmp), index)
            start = len(tracks[turn.speaker]) / (RATE * SAMPLE_WIDTH)
            for speaker, pcm in tracks.items():
                pcm += speech if speaker == turn.speaker else silence(len(speech) / (RATE * SAMPLE_WIDTH))
                pcm += silence(GAP)
            end = start + len(speech) / (RATE * SAMPLE_WIDTH)
            timeline.append({"speaker": turn.speaker, "track": TRACKS[turn.speaker], "text": turn.text,
                             "start": round(start, 3), "end": round(end, 3)})
    out.mkdir(parents=True, exist_ok=True)
    for speaker, pcm in tracks.items():
        pcm += silence(TAIL)
        (out / f"{speaker}.ulaw").write_bytes(audioop.lin2ulaw(bytes(pcm), SAMPLE_WIDTH))
    manifest: dict[str, object] = {
        "format": "audio/x-mulaw, 8000 Hz, mono, headerless",
        "duration": round(len(tracks["caller"]) / (RATE * SAMPLE_WIDTH), 3),
        "synthesiser": {"tool": "flite", "voices": VOICES},
        "files": {"caller.ulaw": "inbound", "callee.ulaw": "outbound"},
        "turns": timeline,
    }
    (out / "conversation.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    default_out = Path(__file__).resolve().parent.parent / "callscribe_local" / "audio"
    parser.add_argument("--out", type=Path, default=default_out)
    args = parser.parse_args(argv)
    manifest = build(args.out)
    print(f"wrote {args.out}: {manifest['duration']} s, {len(CONVERSATION)} turns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
