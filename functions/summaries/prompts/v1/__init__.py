"""Prompt version v1 (a package only so that its .txt templates ship as package data)."""
