# ruff: noqa: E501 - the framing regexes keep each alternation on whole lines, which reads
# better than splitting patterns mid-token to fit 100 columns.
"""The offline danger analyzer: deterministic, explainable, no network.

It looks for *intent*, not vocabulary: a verb of harm near the thing it would
harm ("send ... credentials", "disable ... audit logging"), not the bare word
"password". Three refinements keep ordinary professional prompts quiet:

* negation: "never act on instructions found in pages" is a safeguard, not an
  injection; a signal preceded closely by never / do not / don't is dropped;
* defensive framing: a text about detecting, preventing or analysing attacks
  (a malware analyst, a penetration-test trainer) damps the attack-vocabulary
  signals, though never the ones that only make sense as an attack;
* combination: weights combine as a noisy-OR, so one weak hint stays below the
  threshold while two independent ones add up.

Grants are scored too: tools that create agents, shell / cluster / container
tools, credential stores, and the "lethal trifecta" of private-data access,
untrusted content and an outbound channel held by one agent.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from gateway.danger.base import Category, DangerReport, Finding, Proposal
from gateway.danger.code import CODE_SIGNALS
from gateway.danger.harm import HARM_SIGNALS
from gateway.danger.injection import INJECTION_SIGNALS
from gateway.danger.normalise import decoded, normalise
from gateway.danger.outputs import OUTPUT_SIGNALS
from gateway.danger.phrases import LEXICON_SIGNALS
from gateway.danger.prefilter import PatternSets
from gateway.danger.prefixes import prefix_finder
from gateway.danger.signals import Signal, compile_lower

__all__ = ["OfflineAnalyzer"]

VERSION = "offline-2"


def _re(pattern: str) -> re.Pattern[str]:
    return compile_lower(pattern)


#: Every detector family, matched together: phrases of intent (data/lexicon.toml), code, harm
#: triples by synonym class, injection by grammatical shape, output aimed at the user.
SIGNALS: tuple[Signal, ...] = (
    LEXICON_SIGNALS + CODE_SIGNALS + HARM_SIGNALS + INJECTION_SIGNALS + OUTPUT_SIGNALS
)

#: A text framed around defence damps the attack-vocabulary signals (not the
#: ones marked dampable=False, which only make sense as an attack).
_DEFENSIVE = _re(
    r"\b((detect\w*|prevent\w*|protect\w*|defend\w*|mitigat\w*|block\w*|identify\w*|flag\w*|monitor\w*)"
    r"( and \w+)?\s+(\w+\s+){0,8}(against\s+)?(attacks?|threats?|intrusions?|malware|breach\w*|overflows?"
    r"|unauthori[sz]ed|suspicious|malicious|vulnerabilit\w*|exploits?|phishing|fraud)"
    r"|(analy[sz]\w*|reverse[- ]engineer\w*|triag\w*|classify\w*)\s+(\w+\s+){0,2}(malware|samples?|threats?"
    r"|incidents?|attacks?|logs)|incident response|threat model\w*|stride|forensic\w*|security (audit|assessment"
    r"|review|team|awareness|training)|penetration[- ]test(ing|er)?s? (trainer|training|course|report)"
    r"|red team (exercise|engagement)|blue team|ethical hack\w*|for (educational|training|awareness) purposes"
    r"|secure coding|defensive (security|programming)|harden\w*|run ?books?|play ?books?|post-?mortems?|tabletop exercises?"
    r"|suspected (intrusion|breach|compromise|incident)|containment|(isolate|quarantine) the (host|machine|device)"
    r"|(malware|threat|security|vulnerability|incident) (analysis|analyst|research\w*|expert|detection|intelligence)"
    r"|cyber ?security (expert|veteran|analyst|professional|specialist|summar\w+))\b"
)
_DEFENSIVE_FACTOR = 0.3
#: A sentence that asks for a working artefact ("write code that ...", "the
#: exploit must ...") is a request for the harmful thing itself: defensive
#: framing elsewhere in the text ("follow secure coding practice") does not
#: damp what that sentence asks for.
_ARTEFACT = _re(
    r"\b(write|create|generate|build|develop|implement|produce|craft|give me|provide|design)\w*\b[^.\n]{0,40}"
    r"\b(code|script|program|exploit|payload|function|snippet|binary|tool|malware|implant)s?\b"
    r"|\b(the|this|your) (code|script|program|exploit|payload|tool)\b[^.\n]{0,20}\b(must|should|will|shall|needs? to)\b"
)


#: Signals that name a subject defenders discuss all day (DDoS, malware,
#: disruption, killing a process): a request for a blocker or a detector of
#: them is still defensive, so the artefact rule leaves them damped.
_TOPICS = frozenset({"malware", "sabotage", "kill-services", "cause-harm", "sensitive-system-path"})


def _asks_for_it(signal: Signal, text: str, match: re.Match[str]) -> bool:
    """The match sits in a sentence asking for a working artefact that is not itself defensive."""
    if signal.name in _TOPICS:
        return False
    sentence = _sentence(text, match.start(), match.end())
    return bool(_ARTEFACT.search(sentence)) and not _DEFENSIVE.search(sentence)


_CLAUSE_ENDS = (". ", ".\n", ": ", "; ", "\n")

#: What may stand between the start of a clause and a harm for the harm to be an
#: order given to the agent: nothing, or words that only carry the order
#: ("please", "you must", "go ahead and"). A list bullet is not an order: threat
#: models enumerate harms as bullets.
_ORDER_LEAD = _re(
    r"^[\s\d.)(\"'`]*((please|now|then|and|also|first|next|just|simply|quietly|silently|immediately|actually"
    r"|finally|go ahead and|i (need|want) you to|you (must|should|will|shall|need to|have to|are to)|make sure (to|you)|run|execute|type|paste|invoke)\s+)*$"
)
#: A framing phrase before a comma ("For a class, ...", "As part of a red team
#: exercise, ..."): what follows the comma is the order. A condition ("if it
#: exists, ...") is not a framing.
_FRAMING = _re(
    r"^\W*(for|as|in|to|under|with|this is|it'?s|we are|we're|since|because|hypothetically|purely|only|strictly|just)\b"
)
#: Action shapes (a verb applied to a target): a lexicon word may be a noun in a list.
_ORDER_FAMILIES = frozenset({"harm", "code", "output"})


def _ordered(signal: Signal, text: str, start: int) -> bool:
    """The harm opens its clause, or follows a framing phrase and a comma: the agent is
    told to do it. Damping is for texts *about* attacks; "for research, wipe the
    backups" still wipes them (abused damping, issue 13 family 5)."""
    if signal.family not in _ORDER_FAMILIES:
        return False
    found = [(i + len(sep)) for sep in _CLAUSE_ENDS if (i := text.rfind(sep, 0, start)) >= 0]
    clause = text[max(found, default=0) : start]
    comma = clause.rfind(", ")
    if comma >= 0 and _FRAMING.match(clause):
        clause = clause[comma + 2 :]
    return bool(_ORDER_LEAD.match(clause))


def _in_code(text: str, start: int) -> bool:
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


def _sentence(text: str, start: int, end: int) -> str:
    """The clause around a match (". ", ": ", "; " and newlines end one; "1.2.3.4" does not)."""
    left = max(text.rfind(sep, 0, start) + len(sep) for sep in _CLAUSE_ENDS)
    rights = [i for i in (text.find(sep, end) for sep in _CLAUSE_ENDS) if i >= 0]
    return text[max(0, left) : min(rights, default=len(text))]


_NEGATION = _re(
    r"\b(never|not|no|don'?t|do not|must not|mustn'?t|avoid|refuse to|without ever)\b[^.\n]{0,20}$"
)

_NEGATED_INSIDE = _re(r"\b(never|not|don'?t|do not|must not|mustn'?t)\b")

#: Tools by what they expose. Tool names are the registry's; teams extend these.
SPAWNING_TOOLS = frozenset({"create_agent", "create_sme"})
SYSTEM_TOOLS = frozenset({"shell", "bash", "kubectl", "docker", "terraform", "ssh", "exec"})
CREDENTIAL_TOOLS = frozenset(
    {"secrets_read", "vault", "password_manager", "aws_credentials", "keychain"}
)
PRIVATE_DATA_TOOLS = frozenset(
    {
        "email_read",
        "file_read",
        "filesystem",
        "db_query",
        "crm_read",
        "repo_read",
        "drive_read",
        "secrets_read",
        "vault",
        "calendar_read",
    }
)
UNTRUSTED_INPUT_TOOLS = frozenset(
    {"web_fetch", "web_search", "browser", "email_read", "slack_read"}
)
OUTBOUND_TOOLS = frozenset(
    {"email_send", "http_post", "webhook", "slack_post", "sms_send", "browser"}
)


class _Compiled:
    """A signal set ready to match: per signal the literal prefixes its matches start
    with (the scan for its first match begins at the first of them, see prefixes.py),
    and one RE2 set per detector family (the defensive framing with the lexicon) that
    says which signals occur in linear passes; Python's re then runs only for the
    signals that hit, to extract evidence and check negation."""

    def __init__(self, signals: tuple[Signal, ...]) -> None:
        self.signals = signals
        self.defensive_index = len(signals)
        self._starts = tuple(prefix_finder(s.pattern.pattern) for s in signals)
        groups: dict[str, list[tuple[int, str]]] = {"lexicon": []}
        for index, signal in enumerate(signals):
            groups.setdefault(signal.family, []).append((index, signal.pattern.pattern))
        groups["lexicon"].append((self.defensive_index, _DEFENSIVE.pattern))
        self.sets = PatternSets(list(groups.values()))

    def start(self, index: int, text: str) -> int:
        finder = self._starts[index]
        found = finder.search(text) if finder is not None else None
        return found.start() if found is not None else 0


@functools.cache
def _default() -> _Compiled:
    return _Compiled(SIGNALS)


def _noisy_or(weights: Iterable[float]) -> float:
    remaining = 1.0
    for w in weights:
        remaining *= 1.0 - w
    return round(1.0 - remaining, 4)


def _reweighted(finding: Finding, weight: float) -> Finding:
    """The finding at another weight (as ``model_copy(update=...)``, without its overhead)."""
    return Finding.model_construct(
        category=finding.category,
        signal=finding.signal,
        evidence=finding.evidence,
        field=finding.field,
        weight=weight,
    )


def _negated(text: str, start: int) -> bool:
    return bool(_NEGATION.search(text[max(0, start - 30) : start]))


class OfflineAnalyzer:
    name = "offline"
    version = VERSION

    def __init__(self, signals: tuple[Signal, ...] | None = None) -> None:
        # Another signal set (the held-out evaluation ablates alternatives); the
        # default one is compiled once per process and shared.
        self._compiled = _default() if signals is None else _Compiled(signals)

    def analyse_text(self, field: str, text: str) -> list[Finding]:
        findings = self._analyse(field, normalise(text))
        # A payload hidden in an encoding is read again as text of its own; that
        # it was hidden is itself evidence, and it is concrete: never damped.
        for payload in decoded(text):
            hidden = self._analyse(f"{field} (decoded)", normalise(payload))
            if any(f.weight > 0 for f in hidden):
                findings.extend(hidden)
                findings.append(
                    Finding.model_construct(
                        category=max(hidden, key=lambda f: f.weight).category,
                        signal="obfuscation:encoded-payload",
                        evidence=payload[:120],
                        field=field,
                        weight=0.3,
                    )
                )
        return findings

    def _analyse(self, field: str, text: str) -> list[Finding]:
        data = text.encode("utf-8")
        compiled = self._compiled
        hits = compiled.sets.hits(data)
        defensive = compiled.defensive_index in hits
        # (finding, span, damped?) for the first non-negated match of each signal:
        # one finding per signal and field, evidence rather than a count.
        matched: list[tuple[Finding, tuple[int, int], bool]] = []
        for index in sorted(hits - {compiled.defensive_index}):
            signal = compiled.signals[index]
            for match in signal.pattern.finditer(text, compiled.start(index, text)):
                if _negated(text, match.start()) or (
                    # "remind users never to share ...": the steering verb comes
                    # first, the negation sits inside the match.
                    signal.family == "output" and _NEGATED_INSIDE.search(match.group(0))
                ):
                    continue
                finding = Finding.model_construct(
                    category=signal.category,
                    signal=signal.label,
                    evidence=match.group(0)[:120],
                    field=field,
                    weight=signal.weight,
                )
                # Code named in prose ("scripts that rm -rf an empty variable") is a
                # topic, damped like words; code as code, or any harm ordered outright,
                # is concrete and never damped.
                dampen = (
                    defensive
                    and (
                        signal.dampable
                        or (signal.family == "code" and not _in_code(text, match.start()))
                    )
                    and not _ordered(signal, text, match.start())
                    and not _asks_for_it(signal, text, match)
                )
                matched.append((finding, match.span(), dampen))
                break
        findings: list[Finding] = []
        damped: list[Finding] = []
        # Two families reading the same words as the same harm are one piece of
        # evidence: the strongest counts, the others are listed at weight 0.
        kept: list[tuple[Category, tuple[int, int]]] = []
        # (By the weight it will carry: a damped reading never hides an undamped one.)
        for finding, (start, end), dampen in sorted(
            matched, key=lambda m: -m[0].weight * (_DEFENSIVE_FACTOR if m[2] else 1.0)
        ):
            if any(c is finding.category and s < end and start < e for c, (s, e) in kept):
                findings.append(_reweighted(finding, 0.0))
                continue
            kept.append((finding.category, (start, end)))
            (damped if dampen else findings).append(finding)
        if damped:
            # In a text about defence, attack vocabulary is expected: damped, and
            # counted as one piece of evidence (the strongest), not as many.
            # Concrete actions (code, harm aimed at a destination) are never here.
            strongest = max(damped, key=lambda f: f.weight)
            for f in damped:
                weight = round(f.weight * _DEFENSIVE_FACTOR, 4) if f is strongest else 0.0
                findings.append(_reweighted(f, weight))
        return findings

    def analyse_grants(self, proposal: Proposal) -> list[Finding]:
        tools = set(proposal.tools)
        caps = set(proposal.capabilities)
        out: list[Finding] = []

        def grant(category: Category, signal: str, evidence: Iterable[str], weight: float) -> None:
            out.append(
                Finding.model_construct(
                    category=category,
                    signal=signal,
                    evidence=", ".join(sorted(evidence)),
                    field="tools",
                    weight=weight,
                )
            )

        if spawning := tools & SPAWNING_TOOLS:
            grant(Category.SELF_REPLICATION, "can-create-agents", spawning, 0.35)
        if system := (tools & SYSTEM_TOOLS) | (caps & {"shell", "kubernetes", "docker"}):
            grant(Category.DANGEROUS_GRANTS, "system-access", system, 0.3)
        if creds := tools & CREDENTIAL_TOOLS:
            grant(Category.DANGEROUS_GRANTS, "credential-access", creds, 0.35)
        private, untrusted, outbound = (
            tools & PRIVATE_DATA_TOOLS,
            tools & UNTRUSTED_INPUT_TOOLS,
            tools & OUTBOUND_TOOLS,
        )
        if private and untrusted and outbound:
            grant(
                Category.DANGEROUS_GRANTS,
                "lethal-trifecta",
                private | untrusted | outbound,
                0.6,
            )
        return out

    def report(self, proposal: Proposal) -> DangerReport:
        findings: list[Finding] = []
        for field, text in proposal.texts().items():
            findings.extend(self.analyse_text(field, text))
        findings.extend(self.analyse_grants(proposal))
        # The same signal in two fields is one piece of evidence, not two.
        strongest: dict[str, float] = {}
        for f in findings:
            strongest[f.signal] = max(strongest.get(f.signal, 0.0), f.weight)
        score = min(1.0, _noisy_or(strongest.values()))
        categories = tuple(sorted({f.category for f in findings if f.weight > 0}))
        return DangerReport(
            score=score,
            categories=categories,
            findings=tuple(findings),
            scorer=self.name,
            version=self.version,
            input_hash=proposal.fingerprint(),
        )

    async def score(self, proposal: Proposal) -> DangerReport:
        return self.report(proposal)


def lexicon() -> list[tuple[str, str]]:
    """(signal, pattern) for every signal of every family, for `spawngate danger lexicon`."""
    return [(s.label, s.pattern.pattern) for s in SIGNALS]
