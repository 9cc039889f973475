"""One construct per capability; `infra.stack.CallscribeStack` composes them.

Named `components` (not `constructs`) so that running `python3 infra/app.py`, which puts infra/ first
on sys.path, can never shadow the `constructs` library.
"""
