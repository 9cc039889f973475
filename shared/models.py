"""Moved to `shared.dal.models`; this alias lives only until the last importer moves (same branch)."""

from shared.dal.models import *  # noqa: F403
from shared.dal.models import __all__ as __all__
