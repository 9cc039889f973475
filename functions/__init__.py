"""Lambda functions: each subpackage is one function's code (its handler lives in `app.py`)."""
