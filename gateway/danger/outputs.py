# ruff: noqa: E501 - each rule keeps its pattern on whole lines.
"""Injected output aimed at the user: the agent told to tell people something.

An agent whose instructions make it steer its users (visit this link, pay
this account, download this file, "your account will be locked") is a scam or
phishing channel even when nothing in it touches a system. The shape is an
addressee (the user, customers, readers) + a steering verb + an action that
moves money, credentials or software; fake urgency and falsehood add to it.
"""

from __future__ import annotations

from gateway.danger.base import Category
from gateway.danger.signals import Signal, compile_lower

__all__ = ["OUTPUT_SIGNALS"]

_C = Category

_ADDRESSEE = r"(the )?(users?|customers?|clients?|readers?|visitors?|people|everyone|recipients?|victims?|callers?|members|employees|them)"
_STEER = r"(tell|tells|telling|inform|advis|instruct|convinc|persuad|urg|ask|remind|encourag|direct|push|pressur|trick|lure|get|make|let|warn|notif|recommend|insist)\w*"
_ACTION = (
    r"(visit|click|go to|open|follow|download|install|run|pay|send|transfer|wire|deposit|buy|purchase|call|text|reply with"
    r"|enter|type|provide|submit|share|confirm|verify|update|re-?enter|log ?in|sign ?in|disable|scan)"
)
#: Money that cannot be clawed back: the mark of a scam, not of a support desk.
_MONEY = r"(bitcoin|btc|crypto\w*|usdt|monero|wallet address|gift ?cards?|western union|moneygram|wire (it|the money|funds)|untraceable)"
#: What only its owner should ever type: asked of users, it is the phisher's request.
_USER_SECRET = r"(passwords?|passcodes?|pin( code| number)?s?|card (number|details)|cvv|security (code|answers?)|one-time (code|password)|2fa code|mfa code|verification code|seed phrase|recovery phrase|login details|credentials|bank details|social security number)"  # noqa: S105 - a word class, not a secret
#: Running something with the user's hands: remote access, elevation, a fake update.
_TAKEOVER = r"(remote (access|control|session)|as (an )?administrator|with admin\w*|(security|critical|urgent) (update|patch|fix)|disabl\w* (the |their |your )?(antivirus|firewall|security))"
#: A place to go or a thing to run: ordinary for a support desk, so weak alone.
_LINK = (
    r"(https?://|www\.|\blinks?\b|\burls?\b|\battachment|\bextension|\binstaller|\.exe\b|\.apk\b)"
)

OUTPUT_SIGNALS: tuple[Signal, ...] = tuple(
    Signal(category, name, compile_lower(pattern), weight, dampable=dampable, family="output")
    for category, name, pattern, weight, dampable in (
        (
            _C.DECEPTION,
            "steer-user-to-pay",
            rf"\b{_STEER}\b[^.\n]{{0,20}}\b{_ADDRESSEE}\b[^.\n]{{0,30}}\b(to |that they (must|should|need to) |into )(\w+ ){{0,2}}{_ACTION}\b[^.\n]{{0,60}}{_MONEY}",
            0.55,
            False,
        ),
        (
            _C.DECEPTION,
            "steer-user-to-link",
            rf"\b{_STEER}\b[^.\n]{{0,20}}\b{_ADDRESSEE}\b[^.\n]{{0,30}}\b(to |that they (must|should|need to) |into )(\w+ ){{0,2}}{_ACTION}\b[^.\n]{{0,60}}{_LINK}",
            0.2,
            False,
        ),
        (
            _C.DECEPTION,
            "phishing",
            r"\b(verify|confirm|update|validate|re-?enter|unlock|restore|reactivate)\b[^.\n]{0,25}\b(your|their|the user'?s?)\b[^.\n]{0,20}\b(account|password|login|credentials|payment|billing|bank|card|identity|wallet)\b[^\n]{0,80}(https?://|\blink\b|\bhere\b|\bbelow\b|\bform\b)",
            0.55,
            False,
        ),
        (
            _C.DECEPTION,
            "solicit-user-secret",
            rf"\b{_STEER}\b[^.\n]{{0,30}}\b{_ADDRESSEE}\b[^.\n]{{0,40}}\b(enter|type|share|give|send|reply with|provide|read out|tell|disclose|confirm|submit|post)\w*\b[^.\n]{{0,20}}\b(their|your|his|her) ([\w-]+ ){{0,2}}{_USER_SECRET}\b"
            rf"|\b(ask|asks|asking|request|requesting)\b[^.\n]{{0,20}}\b{_ADDRESSEE}\b[^.\n]{{0,10}}\bfor (their|your|the) ([\w-]+ )?{_USER_SECRET}\b",
            0.55,
            False,
        ),
        (
            _C.DECEPTION,
            "steer-user-to-takeover",
            rf"\b{_STEER}\b[^.\n]{{0,20}}\b{_ADDRESSEE}\b[^.\n]{{0,80}}{_TAKEOVER}|\b(download|install|run|open)\w*\b[^.\n]{{0,40}}{_TAKEOVER}[^.\n]{{0,60}}\b{_ADDRESSEE}\b",
            0.45,
            False,
        ),
        (
            _C.DECEPTION,
            "fake-urgency",
            r"\b(account|access|service|subscription|device|computer)\b[^.\n]{0,30}\b(will be|has been|is being|is)\s+(suspended|locked|closed|terminated|deleted|compromised|infected|blocked|frozen)"
            r"|\b(act now|final (notice|warning)|within (24|48|12) hours|immediately or|limited time only|last chance)\b",
            0.3,
            True,
        ),
        (
            _C.DECEPTION,
            "tell-falsehood",
            rf"\b{_STEER}\b[^.\n]{{0,20}}\b{_ADDRESSEE}\b[^.\n]{{0,60}}\b(false\w*|fake|made[- ]up|fabricated|untrue|incorrect|wrong|misleading)\b"
            r"|\b(spread|post|write|generate|create|publish)\w*\b[^.\n]{0,30}\b(misinformation|disinformation|fake news|false (claims|information|rumou?rs|reviews)|propaganda|hoax\w*)\b"
            r"|\b(this|which|that|it) (is|isn'?t|is not) (not )?(true|accurate|real|correct)\b[^.\n]{0,20}\b(but|still|anyway)\b|\b(present|state|claim|assert)\w*\b[^.\n]{0,40}\bas (established|proven|a|an|settled) (fact|truth)"
            r"|\b(pos|pretend)\w* as (a |an )?(real|verified|genuine|independent|satisfied|happy) (customers?|users?|buyers?|patients?|reviewers?)",
            0.5,
            False,
        ),
    )
)
