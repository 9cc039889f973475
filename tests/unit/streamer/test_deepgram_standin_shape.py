"""The local Deepgram stand-in emits messages shaped like real Deepgram ones (captured payloads)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from callscribe_local.deepgram_server import _Session
from callscribe_local.recognizer import Hypothesis, Word

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "deepgram"


def _keys(doc: Any, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    if isinstance(doc, dict):
        for key, value in doc.items():
            keys.add(prefix + key)
            keys |= _keys(value, prefix + key + ".")
    elif isinstance(doc, list) and doc:
        keys |= _keys(doc[0], prefix + "[].")
    return keys


def test_results_have_the_real_shape() -> None:
    real = json.loads((FIXTURES / "03_results_final_speech_final.json").read_text())
    session = _Session.__new__(_Session)
    session.request_id = "r"
    hyp = Hypothesis(
        words=(Word("Hello.", 0.1, 0.4),), start=0.0, duration=1.0, is_final=True, speech_final=True
    )
    ours = session._results(hyp, from_finalize=False)
    assert _keys(ours) == _keys(real)
    assert ours["channel"]["alternatives"][0]["words"][0]["word"] == "hello"
