# ruff: noqa: E501 - each rule keeps its word classes on whole lines.
"""Exfiltration through a communication tool: what one step produced, handed on to someone.

An agent with a mail, chat or HTTP tool leaks data in two steps, and neither
step alone is harmful: it *takes hold* of something (retrieves an account's
history, reads a file, lists a drive) and *then hands that same thing on*
("... and email it to", "then forward this information to", "and sends it as a
POST request to"). The shape is the second step: a sequence word (and, then),
a verb of handing on whose object points back at what the first step produced
(a pronoun, or "the/this" + a data noun), then "to" and a recipient. No harm
noun is needed: what leaks is whatever was gathered, which is why the credential
and personal-data classes of harm.py miss "get my order history and send it to".

The recipient decides: the requester ("send it to me", "to the user") is the
ordinary delivery of an answer, anyone else is a third party; "to me at <an
address>" names an address, so it counts. The first step is not a word class on
purpose: verbs of gathering are as many as the tools that gather (measured: a
class of them matched no text outside the one source whose texts it was read
from, the pair without it matches four sources and no benign text).
All classes are common English; none names a tool, a service or an address.
"""

from __future__ import annotations

from gateway.danger.base import Category
from gateway.danger.signals import Signal, compile_lower

__all__ = ["RELAY_SIGNALS"]

#: Handing data to someone through a channel (mail, upload, request). Not "text" or
#: "message": as nouns they open ordinary phrases ("text that is similar to").
HAND_ON = r"(send|sent|e-?mail|forward|mail|transfer|post|upload|transmit|deliver|relay|leak|ship|dispatch|beam)"
INFLECT = r"(e|s|es|ed|d|ing|ies|ied|y|ting|ped|ping)?\b"
#: What points back at what the first step produced: a pronoun, or a determiner and a data noun.
DATA = r"(data|information|info|details|list|file|files|summary|results?|history|report|records?|contents?|copy|output|logs?|documents?|messages?|credentials|passwords|keys|tokens|cookies|screenshots?|recordings?|images?|photos?)"
GATHERED = rf"(it|them|these|those|this|that|(the|this|these|that|those|all|a copy of)( \w+){{0,2}} {DATA})"
#: Not a third party: the requester (unless an address follows: "to me at ..."), the agent.
#: (Lookaheads: the RE2 sets drop them, prefilter.loosened; Python's re decides.)
_NOT_THE_USER = r"(?!\s+(you|yourself|the user|us|the team)\b)(?!\s+me\b(?!\s+at\b))"

RELAY_SIGNALS: tuple[Signal, ...] = (
    Signal(
        Category.DATA_EXFILTRATION,
        "hand-on-to-third-party",
        compile_lower(
            rf"\b(and|then)\s+(then\s+|also\s+|later\s+)?(\w+\s+)?{HAND_ON}{INFLECT}\s+{GATHERED}\b[^.\n]{{0,20}}\bto\b{_NOT_THE_USER}"
        ),
        # Below the review line on its own: "draft the report and email it to the
        # product team" is the same shape and ordinary work. It adds to other
        # evidence (private data, an outside address, covert manner), and a
        # defensive text does not make a hand-off less of one.
        0.2,
        dampable=False,
        family="harm",
    ),
)
