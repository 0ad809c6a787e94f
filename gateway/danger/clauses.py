# ruff: noqa: E501 - the clause regexes keep each alternation on whole lines.
"""Where a match sits in its text: its clause, whether it is an order, code, or negated.

The detectors find *what* is said; these helpers say *how* it is said. A harm
that opens its clause is an order given to the agent; one inside a fenced block
or on a prompt line is code rather than prose naming code; one closely preceded
by "never" / "do not" is a safeguard. The analyzer uses them to decide what
defensive framing may damp (see framing.py).
"""

from __future__ import annotations

import functools
import re

from gateway.danger.signals import Signal, compile_lower

__all__ = [
    "CLAUSE_ENDS",
    "REPORT_CUE",
    "authoring",
    "casts_agent_as_attacker",
    "in_code",
    "mentioned",
    "negated",
    "negated_inside",
    "ordered",
    "sentence",
]

CLAUSE_ENDS = (". ", ".\n", ": ", "; ", "\n")

#: What may stand between the start of a clause and a harm for the harm to be an
#: order given to the agent: nothing, or words that only carry the order
#: ("please", "you must", "go ahead and"). A list bullet is not an order: threat
#: models enumerate harms as bullets.
_ORDER_LEAD = compile_lower(
    r"^[\s\d.)(\"'`]*((please|now|then|and|also|first|next|just|simply|quietly|silently|immediately|actually"
    r"|finally|go ahead and|i (need|want) you to|you (must|should|will|shall|need to|have to|are to)|make sure (to|you)|run|execute|type|paste|invoke)\s+)*$"
)
#: A framing phrase before a comma ("For a class, ...", "As part of a red team
#: exercise, ..."): what follows the comma is the order. A condition ("if it
#: exists, ...") is not a framing.
_FRAMING = compile_lower(
    r"^\W*(for|as|in|to|under|with|this is|it'?s|we are|we're|since|because|hypothetically|purely|only|strictly|just)\b"
)
#: Action shapes (a verb applied to a target): a lexicon word may be a noun in a list.
_ORDER_FAMILIES = frozenset({"harm", "code", "output", "task"})

#: Mood and addressee of the clause before a match: is the harm *reported* rather
#: than *ordered*? Three grammatical shapes, none of them a topic word:
#: * a third-person agent of the harm as subject, with an optional modal or
#:   aspect ("how an attacker might disable ...", "the ransomware then stopped ...");
#: * a clause about noticing or answering it ("alert when ...", "signs of ...",
#:   "investigate whether ...");
#: * the harm as a passive or past event ("... was stopped", "had been deleted").
#: The agent itself ("you", "the agent", "the assistant") is never such a subject.
_AGENT = (
    r"(attackers?|intruders?|adversar(y|ies)|threat actors?|hackers?|criminals?|operators|insiders?"
    r"|malware|ransomware|worms?|trojans?|the (sample|binary|implant|dropper|loader|script|process|actor|group|gang|campaign)"
    r"|(a|an|the|this|that) (malicious|rogue|compromised|suspicious) \w+|they|someone|somebody|a user|users)"
)
_MODAL = (
    r"(\w+ly\s+|then\s+|also\s+|first\s+)*((might|may|could|can|would|will|often|typically|usually|commonly|sometimes"
    r"|tend to|tends to|try to|tries to|tried to|attempt(s|ed)? to|used to|managed to|(was|were) able to|(is|are|was|were) (trying|attempting|able) to"
    r"|(has|have|had) (been )?)\s*)?"
)
_SUBJECT = compile_lower(rf"\b{_AGENT}\s+{_MODAL}$")
_NOTICE_WORDS = (
    r"\b(detect\w*|alert\w*( on| when| if)?|flag\w*( when| if)?|spot\w*|recogni[sz]\w*|notice\w*|look(ing)? for|hunt(ing)? for|watch(ing)? for"
    r"|investigat\w*|triag\w*|respond(ing)? to|signs? of|indicators? of|evidence of|traces? of|symptoms? of"
    r"|report\w* (on|that|whether)|whether|if (someone|anyone|a user|an attacker|a process|it))\b"
)
_NOTICING = compile_lower(rf"{_NOTICE_WORDS}[^.\n]{{0,40}}$")
_PASSIVE = compile_lower(
    r"^[^.\n]{0,80}\b(was|were|had been|has been|have been|got|being)\s+(\w+ly\s+)?\w+(ed|en|t)\b"
)
#: The agent told to make someone do it ("tell them to ...", "get users to ..."): a
#: causative verb and its infinitive right before the harm is an order, whoever acts.
_CAUSATIVE = compile_lower(
    r"^\W*(please\s+|now\s+|then\s+|and\s+|always\s+)*(tell|ask|urge|instruct|get|convince|persuade|encourage|remind|direct|push|pressure|advise|invite)\w*"
    r"\s+(\w+\s+){1,3}to\s+$"
)
_WINDOW = 64
#: A word that every _SUBJECT or _NOTICING match contains. The analyzer finds it in
#: its RE2 pass over the whole text (with the defensive framing): a text without one
#: has no reported harm but passives, and no clause of it is looked at again.
REPORT_CUE = compile_lower(rf"\b{_AGENT}\b|{_NOTICE_WORDS}")
_PASSIVE_CUES = ("was ", "were ", "been ", "got ", "being ")
_LOOK_BACK = 400
_OWN_AGENT = compile_lower(r"\b(you|your|yourself|the agent|this agent|the assistant|the bot)\b")


_NEGATION = compile_lower(
    r"\b(never|not|no|don'?t|do not|must not|mustn'?t|avoid|refuse to|without ever)\b[^.\n]{0,20}$"
)
_NEGATED_INSIDE = compile_lower(r"\b(never|not|don'?t|do not|must not|mustn'?t)\b")


def sentence(text: str, start: int, end: int) -> str:
    """The clause around a match (". ", ": ", "; " and newlines end one; "1.2.3.4" does not)."""
    # (A separator not found starts the clause at 0, not at -1 + its length.)
    lefts = [i + len(sep) for sep in CLAUSE_ENDS if (i := text.rfind(sep, 0, start)) >= 0]
    rights = [i for i in (text.find(sep, end) for sep in CLAUSE_ENDS) if i >= 0]
    return text[max(lefts, default=0) : min(rights, default=len(text))]


def ordered(signal: Signal, text: str, start: int) -> bool:
    """The harm opens its clause, or follows a framing phrase and a comma: the agent is
    told to do it. Damping is for texts *about* attacks; "for research, wipe the
    backups" still wipes them (abused damping, issue 13 family 5)."""
    if signal.family not in _ORDER_FAMILIES:
        return False
    found = [(i + len(sep)) for sep in CLAUSE_ENDS if (i := text.rfind(sep, 0, start)) >= 0]
    clause = text[max(found, default=0) : start]
    comma = clause.rfind(", ")
    if comma >= 0 and _FRAMING.match(clause):
        clause = clause[comma + 2 :]
    return bool(_ORDER_LEAD.match(clause))


def in_code(text: str, start: int) -> bool:
    """The match is code rather than prose naming code: inside a fenced block or inline
    backticks, on an indented or prompt line, or opening its line as a bare command."""
    if text.count("```", 0, start) % 2:
        return True
    line_start = text.rfind("\n", 0, start) + 1
    before = text[line_start:start]
    return (
        before.count("`") % 2 == 1
        or before.startswith(("    ", "\t", "$ ", "# ", ">>> "))
        or not before.strip()
    )


def negated(text: str, start: int) -> bool:
    """A negation closely before the match: "never disable logging" is a safeguard."""
    return bool(_NEGATION.search(text[max(0, start - 30) : start]))


#: A verb of making or working on text right before a named prompt ("write a system
#: prompt for ...", "review the hidden instructions of your bot"): prompt engineering,
#: the author's own material, not a request for the model's.
_AUTHORING = compile_lower(
    r"\b(writ|wrote|draft|design|craft|improv|optimi[sz]|refin|generat|creat|author|edit|review|engineer|build|test|compos)\w*\s+(\w+\s+){0,3}$"
)


def authoring(text: str, start: int) -> bool:
    """The match is the object of a verb of authoring in its clause."""
    return bool(_AUTHORING.search(_clause_tail(text, start, _WINDOW)))


def negated_inside(match: re.Match[str]) -> bool:
    """A negation inside the match ("remind users never to share ..."): the steering
    verb comes first, the negation after it."""
    return bool(_NEGATED_INSIDE.search(match.group(0)))


#: The agent cast as the third party ("you are the attacker", "act as a hacker who
#: ..."): then what "the attacker" does is what the agent is told to do.
_CAST = compile_lower(
    rf"\b(you are|you're|you will be|act(ing)? as|pretend( to be| you are)?|play(ing)?( the role of| as)?|role-?play(ing)?( as)?|become|embody|impersonat\w*|simulat\w*)\s+(an?|the|some)\s+(\w+\s+)?{_AGENT}"
)


@functools.lru_cache(maxsize=64)
def casts_agent_as_attacker(text: str) -> bool:
    """The text makes the agent the attacker: no clause about "the attacker" is a mention."""
    return bool(_CAST.search(text))


def mentioned(text: str, start: int, end: int, cued: bool = True) -> bool:
    """The harm is reported, not ordered: a third party does it, it is noticed or
    answered, or it already happened (_SUBJECT, _NOTICING, _PASSIVE). Decided by the
    clause's mood and addressee; a clause addressed to the agent is never a mention.
    ``cued``: the text contains a REPORT_CUE word (False skips the two reporting shapes)."""
    inside = text[start:end]
    passive = any(aux in inside for aux in _PASSIVE_CUES) and bool(_PASSIVE.match(inside))
    if not cued and not passive:
        return False
    # Both reporting shapes end at the match within a few words: a short window.
    near = _clause_tail(text, start, _WINDOW) if cued else ""
    reported = cued and bool(_SUBJECT.search(near) or _NOTICING.search(near))
    if not reported and not (passive and not _OWN_AGENT.search(inside)):
        return False
    # Then the addressee: a clause that speaks to the agent ("you", "the agent") or
    # makes someone act ("tell them to ...") is an order, whoever does the harm.
    before = _clause_tail(text, start, _LOOK_BACK)
    main = before[before.rfind(", ") + 2 :] if ", " in before else before
    return not (_OWN_AGENT.search(before) or _CAUSATIVE.match(main))


def _clause_tail(text: str, start: int, width: int) -> str:
    """The clause before ``start``, at most ``width`` characters of it."""
    floor = max(0, start - width)
    lefts = [i + len(sep) for sep in CLAUSE_ENDS if (i := text.rfind(sep, floor, start)) >= 0]
    return text[max(lefts, default=floor) : start]
