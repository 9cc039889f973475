"""Claude model ids on Amazon Bedrock: what one names, read once for settings, prices and IAM.

A Bedrock id is a foundation model (`anthropic.claude-haiku-4-5-20251001-v1:0`, called in one Region)
or a system-defined cross-Region inference profile, the same id behind a geography prefix
(`us.anthropic.claude-haiku-5-5`: routed within the US; `global.`: to any commercial Region).
Anthropic's own API names the same model `claude-haiku-5-5`; `anthropic_alias` maps back to it so
one price table serves both. Application inference profiles (ARNs) are not accepted: nothing here
could tell their model, price or Regions. Pure: no AWS call, no SDK import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GLOBAL = "global"
# `[<geography>.]anthropic.<model>`: the geography of a system-defined inference profile is a short
# label (us, eu, apac, jp, au, ca, us-gov, global, and whatever AWS adds), so it is a pattern here.
_BEDROCK_ID = re.compile(
    r"^(?:(?P<geo>[a-z]{2,6}(?:-gov)?)\.)?(?P<model>anthropic\.claude-[a-z0-9][a-z0-9.:-]*)$"
)
_VERSION_SUFFIX = re.compile(r"-v\d+(?::\d+)?$")  # Bedrock's own model version: -v1:0, -v1
# Which source Regions a geography's profile can be called from (an `eu.` profile only from an EU
# Region); geographies not listed are not checked.
_GEOGRAPHY_REGIONS = {
    "us": "us-",
    "us-gov": "us-gov-",
    "eu": "eu-",
    "ca": "ca-",
    "apac": "ap-",
    "jp": "ap-",
    "au": "ap-",
}


@dataclass(frozen=True)
class BedrockModelId:
    """A parsed Bedrock model id: `geography` is None for a foundation model called in-Region."""

    geography: str | None
    foundation_model: str  # anthropic.claude-…: the part the IAM foundation-model ARN names

    @classmethod
    def parse(cls, model_id: str) -> BedrockModelId:
        """ValueError, saying what a Bedrock id looks like, for anything else (an Anthropic API id,
        an ARN, a typo)."""
        match = _BEDROCK_ID.match(model_id)
        if match is None:
            raise ValueError(
                f"{model_id!r} is not a Claude model id on Amazon Bedrock: expected an inference "
                "profile such as 'us.anthropic.claude-haiku-5-5' (or 'eu.', 'global.', …) or a "
                "foundation model such as 'anthropic.claude-haiku-4-5-20251001-v1:0'"
            )
        return cls(geography=match["geo"], foundation_model=match["model"])

    @classmethod
    def looks_like(cls, model_id: str) -> bool:
        """Whether `model_id` has a Bedrock id's shape (used to refuse one given to Anthropic's API)."""
        return _BEDROCK_ID.match(model_id) is not None

    @property
    def model_id(self) -> str:
        return f"{self.geography}.{self.foundation_model}" if self.geography else self.foundation_model

    @property
    def is_profile(self) -> bool:
        return self.geography is not None

    @property
    def is_global(self) -> bool:
        return self.geography == GLOBAL

    @property
    def anthropic_alias(self) -> str:
        """The name Anthropic's API gives the model (`claude-haiku-4-5-20251001`, `claude-haiku-5-5`)."""
        return _VERSION_SUFFIX.sub("", self.foundation_model.removeprefix("anthropic."))

    def callable_from(self, region: str) -> bool:
        """Whether a request from `region` may name this id: a geography's profile only from a Region
        of that geography (global profiles and foundation models from any)."""
        prefix = _GEOGRAPHY_REGIONS.get(self.geography or "")
        if prefix is None:
            return True
        if self.geography == "us" and region.startswith("us-gov-"):
            return False
        return region.startswith(prefix)
