"""The live feed's call status publisher: the calls table's stream in, `call` messages out."""
