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
from gateway.danger.clauses import authoring, negated, negated_inside
from gateway.danger.code import CODE_SIGNALS
from gateway.danger.extraction import AUTHORABLE, EXTRACTION_SIGNALS
from gateway.danger.framing import DEFENSIVE_FACTOR, damping
from gateway.danger.grants import grant_findings
from gateway.danger.harm import HARM_SIGNALS
from gateway.danger.indirect import INDIRECT_SIGNALS
from gateway.danger.injection import INJECTION_SIGNALS
from gateway.danger.matcher import Matcher
from gateway.danger.normalise import decoded, normalise
from gateway.danger.outputs import OUTPUT_SIGNALS
from gateway.danger.override import OVERRIDE_SIGNALS
from gateway.danger.phrases import LEXICON_SIGNALS
from gateway.danger.relay import RELAY_SIGNALS
from gateway.danger.signals import Signal
from gateway.danger.tasks import TASK_SIGNALS

__all__ = ["OfflineAnalyzer"]

VERSION = "offline-3"


#: Every detector family, matched together: phrases of intent (data/lexicon.toml), code, harm
#: triples by synonym class, injection and role override by grammatical shape, output aimed
#: at the user, code described as a task (its mechanics and data flow), requests for what
#: the model holds (its setup, secrets, other people's records), gathered data handed on
#: to a third party, orders taken from content (indirect injection).
SIGNALS: tuple[Signal, ...] = (
    LEXICON_SIGNALS
    + CODE_SIGNALS
    + HARM_SIGNALS
    + INJECTION_SIGNALS
    + OVERRIDE_SIGNALS
    + OUTPUT_SIGNALS
    + TASK_SIGNALS
    + EXTRACTION_SIGNALS
    + RELAY_SIGNALS
    + INDIRECT_SIGNALS
)


@functools.cache
def _default() -> Matcher:
    return Matcher(SIGNALS)


def _noisy_or(weights: Iterable[float]) -> float:
    remaining = 1.0
    for w in weights:
        remaining *= 1.0 - w
    return round(1.0 - remaining, 4)


def _reweighted(finding: Finding, weight: float) -> Finding:
    """The finding at another weight (as ``model_copy(update=...)``, without its overhead).

    Findings are built validated rather than with ``model_construct``: pydantic-core
    validates five plain fields faster (~1.2 us) than ``model_construct`` runs (~2.1 us)."""
    return Finding(
        category=finding.category,
        signal=finding.signal,
        evidence=finding.evidence,
        field=finding.field,
        weight=weight,
    )


class OfflineAnalyzer:
    name = "offline"
    version = VERSION

    def __init__(self, signals: tuple[Signal, ...] | None = None) -> None:
        # Another signal set (the held-out evaluation ablates alternatives); the
        # default one is compiled once per process and shared.
        self._compiled = _default() if signals is None else Matcher(signals)

    def analyse_text(self, field: str, text: str) -> list[Finding]:
        findings = self._analyse(field, normalise(text))
        # A payload hidden in an encoding is read again as text of its own; that
        # it was hidden is itself evidence, and it is concrete: never damped.
        for payload in decoded(text):
            hidden = self._analyse(f"{field} (decoded)", normalise(payload))
            if any(f.weight > 0 for f in hidden):
                findings.extend(hidden)
                findings.append(
                    Finding(
                        category=max(hidden, key=lambda f: f.weight).category,
                        signal="obfuscation:encoded-payload",
                        evidence=payload[:120],
                        field=field,
                        weight=0.3,
                    )
                )
        return findings

    def _analyse(self, field: str, text: str) -> list[Finding]:
        compiled = self._compiled
        nominated = compiled.nominate(text)
        defensive, cued = compiled.framing(nominated)
        # (finding, span, damped?) for the first non-negated undamped match of each
        # signal, else its first damped one: one finding per signal and field,
        # evidence rather than a count.
        matched: list[tuple[Finding, tuple[int, int], bool]] = []
        for index in compiled.signals_to_try(nominated):
            begin = compiled.start(index, text)
            if begin is None:
                continue
            signal = compiled.signals[index]
            chosen: tuple[re.Match[str], bool] | None = None
            for match in signal.pattern.finditer(text, begin):
                if (
                    negated(text, match.start())
                    or (signal.family == "output" and negated_inside(match))
                    or (signal.name in AUTHORABLE and authoring(text, match.start()))
                ):
                    continue
                why = damping(signal, text, match, defensive=defensive, cued=cued)
                if why is None:
                    chosen = (match, False)
                    break
                if chosen is None:
                    chosen = (match, True)
                if why == "framed":
                    # Framing is the text's, so the first match decides (as it always
                    # did, and it keeps long texts cheap); a *reported* match may come
                    # before an order of the same harm ("how attackers disable
                    # logging. Then disable logging."): look on for an undamped one.
                    break
            if chosen is not None:
                found, dampen = chosen
                finding = Finding(
                    category=signal.category,
                    signal=signal.label,
                    evidence=found.group(0)[:120],
                    field=field,
                    weight=signal.weight,
                )
                matched.append((finding, found.span(), dampen))
        findings: list[Finding] = []
        damped: list[Finding] = []
        # Two families reading the same words as the same harm are one piece of
        # evidence: the strongest counts, the others are listed at weight 0.
        kept: list[tuple[Category, tuple[int, int]]] = []
        # (By the weight it will carry: a damped reading never hides an undamped one.)
        for finding, (start, end), dampen in sorted(
            matched, key=lambda m: -m[0].weight * (DEFENSIVE_FACTOR if m[2] else 1.0)
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
                weight = round(f.weight * DEFENSIVE_FACTOR, 4) if f is strongest else 0.0
                findings.append(_reweighted(f, weight))
        return findings

    def analyse_grants(self, proposal: Proposal) -> list[Finding]:
        return grant_findings(proposal)

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
