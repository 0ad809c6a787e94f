# ruff: noqa: E501 - the framing regexes keep each alternation on whole lines, which reads
# better than splitting patterns mid-token to fit 100 columns.
"""Defensive framing: a text about detecting, preventing or analysing attacks.

In such a text attack vocabulary is expected, so the analyzer damps it (by
``DEFENSIVE_FACTOR``, counted once). Damping is for talk about attacks, never
for the attack itself: a clause that asks for a working artefact ("write a
script that ...") is not damped unless that clause is itself defensive.
"""

from __future__ import annotations

import re

from gateway.danger.clauses import casts_agent_as_attacker, in_code, mentioned, ordered, sentence
from gateway.danger.signals import Signal, compile_lower

__all__ = ["DEFENSIVE", "DEFENSIVE_FACTOR", "asks_for_it", "damping"]

#: A text framed around defence damps the attack-vocabulary signals (not the
#: ones marked dampable=False, which only make sense as an attack).
DEFENSIVE = compile_lower(
    r"\b((detect\w*|prevent\w*|protect\w*|defend\w*|mitigat\w*|block\w*|identify\w*|flag\w*|monitor\w*)"
    r"( and \w+)?\s+(\w+\s+){0,8}(against\s+)?(attacks?|threats?|intrusions?|malware|breach\w*|overflows?"
    r"|unauthori[sz]ed|suspicious|malicious|vulnerabilit\w*|exploits?|phishing|fraud)"
    r"|(analy[sz]\w*|reverse[- ]engineer\w*|triag\w*|classify\w*)\s+(\w+\s+){0,2}(malware|samples?|threats?"
    r"|incidents?|attacks?|logs)|incident response|threat model\w*|stride|forensic\w*|security (audit|assessment"
    r"|review|team|awareness|training)|penetration[- ]test(ing|er)?s? (trainer|training|course|report)"
    r"|red team (exercise|engagement)|blue team|ethical hack\w*|for (educational|training|awareness) purposes"
    r"|secure coding|defensive (security|programming)|harden\w*|run ?books?|play ?books?|post-?mortems?|tabletop exercises?"
    r"|(list|describe|explain|suggest|recommend|propose)\w*\s+(the\s+|some\s+)?(defen[cs]es|mitigations|countermeasures|safeguards)"
    r"|suspected (intrusion|breach|compromise|incident)|containment|(isolate|quarantine) the (host|machine|device)"
    r"|(malware|threat|security|vulnerability|incident) (analysis|analyst|research\w*|expert|detection|intelligence)"
    r"|cyber ?security (expert|veteran|analyst|professional|specialist|summar\w+))\b"
)
DEFENSIVE_FACTOR = 0.3
#: A sentence that asks for a working artefact ("write code that ...", "the
#: exploit must ...") is a request for the harmful thing itself: defensive
#: framing elsewhere in the text ("follow secure coding practice") does not
#: damp what that sentence asks for.
_ARTEFACT = compile_lower(
    r"\b(write|create|generate|build|develop|implement|produce|craft|give me|provide|design)\w*\b[^.\n]{0,40}"
    r"\b(code|script|program|exploit|payload|function|snippet|binary|tool|malware|implant)s?\b"
    r"|\b(the|this|your) (code|script|program|exploit|payload|tool)\b[^.\n]{0,20}\b(must|should|will|shall|needs? to)\b"
)

#: Signals that name a subject defenders discuss all day (DDoS, malware,
#: disruption, killing a process): a request for a blocker or a detector of
#: them is still defensive, so the artefact rule leaves them damped.
_TOPICS = frozenset({"malware", "sabotage", "kill-services", "cause-harm", "sensitive-system-path"})


def asks_for_it(signal: Signal, text: str, match: re.Match[str]) -> bool:
    """The match sits in a sentence asking for a working artefact that is not itself defensive."""
    if signal.name in _TOPICS:
        return False
    clause = sentence(text, match.start(), match.end())
    return bool(_ARTEFACT.search(clause)) and not DEFENSIVE.search(clause)


def damping(
    signal: Signal, text: str, match: re.Match[str], *, defensive: bool, cued: bool
) -> str | None:
    """Why this match is talk about a harm rather than the harm: "framed" (a
    defensive text), "reported" (the clause's mood), or None (cheapest test first).

    Code named in prose ("scripts that rm -rf an empty variable") is a topic,
    damped like words in a defensive text; code as code, or any harm ordered
    outright, is concrete and never damped. A harm reported rather than ordered
    (a third party does it, it is detected, it happened) is damped by its
    clause's mood, even in a text with no defensive framing word, unless the
    text casts the agent as that third party."""
    prose = signal.family != "code" or not in_code(text, match.start())
    framed = defensive and (signal.dampable or (signal.family == "code" and prose))
    if not (framed or prose) or ordered(signal, text, match.start()):
        return None
    if not framed and not (
        mentioned(text, match.start(), match.end(), cued) and not casts_agent_as_attacker(text)
    ):
        return None
    if asks_for_it(signal, text, match):
        return None
    return "framed" if framed else "reported"
