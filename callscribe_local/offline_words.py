"""Words for the offline stand-ins that read transcripts without a model: a tokeniser and stop words
(the offline summariser's topics, its evaluation answers' cues)."""

from __future__ import annotations

import re

WORDS = re.compile(r"[^\W\d_][\w'-]+", re.UNICODE)


def wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS = wordset(
    """a about after again all also am an and any are as at be because been before being but by can
    could did do does doing don't for from get got had has have having he her here hers him his how i
    i'd i'll i'm i've if in into is it it's its just know like me more my no not now of off oh ok okay
    on once one only or other our out over please really right said say see she so some sure than
    thank thanks that that's the their them then there these they this those through to too uh um
    up us very want was we we'll we're well were what when where which while who will with would yeah
    yes you you'll you're your yours hello hi bye goodbye great good let going go call calling"""
)
