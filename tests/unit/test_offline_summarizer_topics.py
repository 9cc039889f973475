"""The offline summariser's topics come from what was said, never from the redaction tokens that
stand in for what was removed (`[REDACTED CARD]` is no conversation about "redacted" or "card")."""

from __future__ import annotations

import re

from callscribe_local.offline_summarizer import OfflineSummarizer

TRANSCRIPT = """<transcript>
L1 [00:00:01] caller: Hello, I need to update the billing details on my account please.
L2 [00:00:05] callee: Sure, what is the new card number for the billing account?
L3 [00:00:09] caller: It is [REDACTED CARD], and my social is [REDACTED SSN].
L4 [00:00:14] callee: Thanks, I read back [REDACTED CARD]. And the member number [REDACTED MEMBER_ID]?
L5 [00:00:19] caller: Yes [REDACTED MEMBER_ID], that is right, [REDACTED CARD] [REDACTED CARD].
L6 [00:00:23] callee: The billing account is updated.
</transcript>"""


def test_redaction_tokens_are_never_topics() -> None:
    topics = OfflineSummarizer().facts(TRANSCRIPT).topics
    assert topics[0] == "billing"  # what the call was about still leads
    assert not {"redacted", "ssn", "member_id"} & set(topics), topics
    # exactly the topics of the same words with nothing redacted in them: "card" counts once (said
    # on line 2), not once per token
    unredacted = re.sub(r"\[REDACTED [A-Z_]+\]", "", TRANSCRIPT)
    assert topics == OfflineSummarizer().facts(unredacted).topics
