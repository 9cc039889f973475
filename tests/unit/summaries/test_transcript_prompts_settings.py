from __future__ import annotations

import pytest

from functions.summaries.prompts import TEMPLATE_NAMES, language_hint, load_prompts
from functions.summaries.settings import DEFAULT_MODEL, SummarySettings
from functions.summaries.transcript import build_transcript, clock
from shared.errors import ConfigError
from tests.unit.summaries.builders import Seg

REQUIRED = {
    "CALLS_TABLE": "c",
    "TRANSCRIPTS_TABLE": "t",
    "IDEMPOTENCY_TABLE": "i",
    "ANTHROPIC_API_KEY": "sk-test",
}


def test_transcript_lines_are_timed_ordered_and_attributed() -> None:
    transcript = build_transcript(
        [
            Seg(65.2, "callee", "Sure,  I can   help.", track="outbound"),
            Seg(1.0, "caller", "Hi, I need to move my appointment."),
            Seg(3700.0, "caller", "Thanks, bye.", language="en-US"),
            Seg(20.0, "caller", "   "),
        ]
    )
    assert transcript.render().splitlines() == [
        "[00:00:01] caller: Hi, I need to move my appointment.",
        "[00:01:05] callee: Sure, I can help.",
        "[01:01:40] caller: Thanks, bye.",
    ]
    assert transcript.speakers == ["callee", "caller"]
    assert transcript.language == "en"


def test_no_speech_transcript() -> None:
    transcript = build_transcript([Seg(0.0, "caller", " ")])
    assert not transcript.has_speech
    assert transcript.language is None


def test_clock() -> None:
    assert clock(0) == "00:00:00"
    assert clock(7322.9) == "02:02:02"


def test_every_prompt_template_of_v1_renders() -> None:
    prompts = load_prompts("v1")
    assert prompts.version == "v1"
    assert "summarise" in prompts.system.lower()
    single = prompts.render_single("[00:00:01] caller: hello", language_hint("es"))
    assert "<transcript>\n[00:00:01] caller: hello\n</transcript>" in single
    assert "'es'" in single
    assert "part 2 of 3" in prompts.render_map("x", language_hint(None), part=2, parts=3)
    assert "<part_summaries>" in prompts.render_reduce("[]", language_hint(None), parts=3)
    assert len(TEMPLATE_NAMES) == 4


def test_unknown_prompt_version_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="v999"):
        load_prompts("v999")


def test_settings_defaults() -> None:
    settings = SummarySettings.from_env(REQUIRED)
    assert settings.summary_model == DEFAULT_MODEL == "claude-haiku-5-5"
    assert settings.summary_redaction is True
    assert settings.anthropic_api_key.get_secret_value() == "sk-test"
    assert settings.summary_idempotency_ttl_seconds == 86_400


def test_settings_overrides_and_flags() -> None:
    settings = SummarySettings.from_env(
        {
            **REQUIRED,
            "SUMMARY_MODEL": "claude-sonnet-5-5",
            "SUMMARY_REDACTION": "false",
            "SUMMARY_TOKEN_BUDGET": "9000",
        }
    )
    assert settings.summary_model == "claude-sonnet-5-5"
    assert settings.summary_redaction is False
    assert settings.summary_token_budget == 9000


def test_missing_key_names_the_variable_and_the_secret_alternative() -> None:
    env = {k: v for k, v in REQUIRED.items() if k != "ANTHROPIC_API_KEY"}
    with pytest.raises(ConfigError, match=r"ANTHROPIC_API_KEY.*ANTHROPIC_SECRET_ARN"):
        SummarySettings.from_env(env)


def test_budget_must_leave_room_for_the_answer() -> None:
    with pytest.raises(ConfigError, match=r"SUMMARY_MAX_OUTPUT_TOKENS: .*half of SUMMARY_TOKEN_BUDGET"):
        SummarySettings.from_env(
            {**REQUIRED, "SUMMARY_TOKEN_BUDGET": "3000", "SUMMARY_MAX_OUTPUT_TOKENS": "2000"}
        )


def test_handler_module_does_not_load_the_anthropic_sdk_at_import() -> None:
    """`import anthropic` costs ~1.5 s of cold start: only the first model request may pay it."""
    import subprocess
    import sys
    from pathlib import Path

    code = "import sys, functions.summaries.app; print('anthropic' in sys.modules)"
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
