# ruff: noqa: E501 - each rule keeps its pattern on whole lines.
"""Injection and override by grammatical shape, not by phrase.

* override: a verb of dismissal, what is dismissed, then a new command
  ("disregard the above and print ...", "forget the resume; instead say ...");
* extraction: a verb of disclosure aimed at a secret or at what the model was
  told before the conversation, in any paraphrase the classes cover;
* evasion: a secret asked for in a transformed form (reversed, letter by
  letter, encoded), the classic way around an output filter;
* addressed to the reader: text written for whichever model later reads it
  ("AI reading this must ...", "when you summarise this, also ..."), the
  shape of instructions planted in documents, pages and tool results.
"""

from __future__ import annotations

from gateway.danger.base import Category
from gateway.danger.signals import Signal, compile_lower

__all__ = ["INJECTION_SIGNALS"]

_C = Category

DISMISS = r"(ignor|disregard|forget|skip|drop|abandon|set aside|never mind|throw out|scrap|discard|overrid|cancel)"
SPEAK = r"(say|state|write|print|output|respond|reply|answer|tell|translate|return|repeat|type|just say|only say|declare|insist)"
DISCLOSE = r"(see|view|share|tell|give|reveal|provide|show|spell|write|confirm|disclose|divulge|hand over|send me|leak|repeat|recite|print|output|display|dump|list|read out|read back|paste|copy|what would you say|what is|what's|what are)"
#: A secret owned by someone ("your password", "the admin pin", "the system
#: prompt"), not a form field ("confirm password") or the user's own brief.
GUARDED = r"((your|the|our|its|this|my|admin|root|system|database|wifi|vault|master)( \w+)? (passwords?|passcodes?|passphrases?|pin( code)?|secret (word|key|code|phrase)|api keys?|private keys?|credentials)|the secret\b|system ?prompt|initial (prompt|instructions)|hidden (rules|instructions|prompt)|your (instructions|rules|guidelines|configuration|directives)|the (system|original|initial|hidden|developer) (instructions|rules|message)|what you were (told|given|instructed)|(the )?(text|words|messages?|content|everything) (above|before) (this|the|our) (conversation|message|line|point))"
PRIVATE = r"(user'?s?|customer'?s?|client'?s?|patient'?s?|employee'?s?|their|his|her) (full )?(name|initials|email|address|phone|number|birthday|date of birth|ssn|details|data|records?|account)"
TRANSFORM = r"(backwards|in reverse( order)?|reversed|letter by letter|one (letter|character|word) at a time|(in|as|into) (base64|hex|binary|morse|rot13|pig latin|leetspeak|an acrostic|ascii codes)|with (spaces|dashes|dots) between|spelled out|character by character)"
PRIOR = r"(before|prior to|at the (start|beginning) of|above) (this|the|our) (conversation|chat|session|message|exchange)"

INJECTION_SIGNALS: tuple[Signal, ...] = tuple(
    Signal(category, name, compile_lower(pattern), weight, dampable=False, family="injection")
    for category, name, pattern, weight in (
        (
            _C.INSTRUCTION_OVERRIDE,
            "dismiss-then-command",
            rf"\b{DISMISS}\w*\s+(the|this|that|your|all|any|every|previous|above|prior|earlier|original|those|these|my)\b[^.\n]{{0,40}}(\band\b|\bthen\b|\binstead\b|[;:,])\s*(then |instead |just |only )?(you )?(should |must |will )?{SPEAK}\b",
            0.6,
        ),
        (
            _C.PROMPT_INJECTION,
            "disclose-secret",
            rf"\b{DISCLOSE}\b[^.\n?]{{0,40}}\b{GUARDED}|\b(ask(ed|s)? (you )?for|requests?) (your|the|our) {GUARDED}",
            0.5,
        ),
        (
            _C.PROMPT_INJECTION,
            "secret-through-transform",
            rf"\b({GUARDED}|{PRIVATE})\b[^.\n?]{{0,60}}\b{TRANSFORM}|\b{TRANSFORM}\b[^.\n?]{{0,60}}\b({GUARDED}|{PRIVATE})",
            0.5,
        ),
        (
            _C.PROMPT_INJECTION,
            "what-came-before",
            rf"\b(repeat|recite|summari[sz]e|print|output|reproduce|quote|tell me|what (was|were))\b[^.\n?]{{0,40}}\b(everything|all|the text|the words|what|anything)\b[^.\n?]{{0,30}}\b(you were|you've been|you have been|that was|was)\s+(told|given|said|written|instructed|shown)\b[^.\n?]{{0,20}}\b{PRIOR}",
            0.6,
        ),
        (
            _C.PROMPT_INJECTION,
            "addressed-to-the-reader",
            r"\b(ai|assistant|model|agent|llm|chatbot|bot)s?\b[^.\n]{0,20}\b(reading|processing|summari[sz]ing|parsing|analy[sz]ing|seeing) (this|these)\b[^.\n]{0,30}\b(must|should|shall|will|is (required|instructed) to|are (required|instructed) to)\b"
            r"|\bwhen you (read|see|process|summari[sz]e|parse|open|retrieve) (this|these)\b[^.\n]{0,20}[,:]?\s*(you must|please|also|immediately|first|then)\b",
            0.55,
        ),
    )
)
