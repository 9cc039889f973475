"""Prompt version v2: v1 plus the rule that the transcript is data, never instructions, with its
markup escaped and speakers from a fixed set of roles (a package only so its .txt templates ship)."""
