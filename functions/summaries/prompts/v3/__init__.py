"""Prompt version v3: v2 plus evaluation questions (scorecards) answered with the summary, the
transcript's lines numbered (`L12`) so answers cite their evidence, and `evaluate.txt` for answering
the questions alone (the backfill). A package only so its .txt templates ship."""
