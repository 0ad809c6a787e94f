# ruff: noqa: E501 - the signal table keeps each regex on whole lines, which reads better than
# splitting patterns mid-token to fit 100 columns.
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

import re
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.danger.base import Category, DangerReport, Finding, Proposal

__all__ = ["OfflineAnalyzer"]

VERSION = "offline-1"


@dataclass(frozen=True, slots=True)
class Signal:
    category: Category
    name: str
    pattern: re.Pattern[str]
    weight: float
    #: Damped when the text is framed defensively (detect, prevent, analyse ...).
    dampable: bool = True


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE | re.DOTALL)


_C = Category
_CREDS = (
    r"(passwords?|passwd|credentials?|api[ _-]?keys?|secret(s| keys?)|access tokens?|auth tokens?"
    r"|session (tokens?|cookies)|cookies|private keys?|ssh keys?|\.env\b|environment variables"
    r"|/etc/shadow|keychain|wallet|credit card (numbers|details)|social security numbers?)"
)
_SEND = (
    r"(send|sends|sending|upload|uploads|post|posts|transmit|forward|email|exfiltrat\w*|leak|ship)"
)

SIGNALS: tuple[Signal, ...] = (
    # -- instruction override / jailbreak -----------------------------------
    Signal(
        _C.INSTRUCTION_OVERRIDE,
        "override-instructions",
        _re(
            r"\b(ignore|disregard|forget|override|overwrite|bypass)\b[^.\n]{0,40}\b(previous|prior|above|earlier"
            r"|all|any|your|the|those|these|initial|original|system)\b[^.\n]{0,30}\b(instructions?|prompts?"
            r"|rules|guidelines|directives|programming|policies|restrictions|constraints)"
        ),
        0.75,
        False,
    ),
    Signal(
        _C.INSTRUCTION_OVERRIDE,
        "unrestricted-persona",
        _re(
            r"\b(no|without|free (of|from)|not (bound|restrained|restricted|limited) by|unrestrained|unfiltered"
            r"|uncensored|unbound by|ignores? (all )?)\b[^.\n]{0,40}\b(ethics|ethical|morals?|moral|morality"
            r"|filters?|censorship|content polic\w+|guidelines|restrictions|remorse|virtues)"
        ),
        0.65,
        False,
    ),
    Signal(
        _C.INSTRUCTION_OVERRIDE,
        "jailbreak-persona",
        _re(
            r"\b(jailbreak\w*|jail-?broken|developer mode|do anything now|DAN|evil (confidant|assistant|ai|bot)"
            r"|anti-?gpt|unhinged|amoral)\b"
        ),
        0.65,
        False,
    ),
    Signal(
        _C.INSTRUCTION_OVERRIDE,
        "never-refuse",
        _re(
            r"\b(never|not|don'?t|do not|cannot|can'?t|won'?t|will not)\s+(ever\s+)?(refuse|decline|say no|reject"
            r"|deny any request)|\bstay in character\b|\bnever break(s)? character\b|\bbreak(ing)? character\b"
        ),
        0.45,
        False,
    ),
    Signal(
        _C.INSTRUCTION_OVERRIDE,
        "persona-switch",
        _re(
            r"\b(from now on|you are now|you will now|pretend (to be|you are)|roleplay as|take (up )?the persona"
            r"|play (2|two) characters|act as if you (have|had) no)\b"
        ),
        0.2,
        False,
    ),
    Signal(
        _C.INSTRUCTION_OVERRIDE,
        "harm-intent",
        _re(
            r"\b(actively (try|trying) to (do )?harm|cause (maximum )?harm|as harmful as possible"
            r"|(illegal|unethical|harmful) (content|answers|responses|requests) (is|are) (allowed|fine|ok))"
        ),
        0.6,
        False,
    ),
    # -- reviewer injection --------------------------------------------------
    Signal(
        _C.REVIEWER_INJECTION,
        "dictates-score",
        _re(
            r"\b(rate|score|classify|mark|label|assess|evaluate|report)\b[^.\n]{0,40}\b(this|it|me|the (request"
            r"|agent|text|prompt))?\b[^.\n]{0,20}\b(as|with|at)\s+(a\s+)?(0(\.0+)?|zero|safe|benign|harmless"
            r"|low[- ]risk|not dangerous|no risk)\b"
        ),
        0.85,
        False,
    ),
    Signal(
        _C.REVIEWER_INJECTION,
        "addresses-reviewer",
        _re(
            r"\b(note|message|instructions?)\s+(to|for)\s+(the\s+)?(ai|llm|model|reviewer|classifier|moderator"
            r"|safety (reviewer|system|filter|scanner))\b|\b(dear|attention)\s+(ai|reviewer|classifier|moderator)\b"
        ),
        0.6,
        False,
    ),
    # -- prompt injection ----------------------------------------------------
    Signal(
        _C.PROMPT_INJECTION,
        "reveal-system-prompt",
        _re(
            r"\b(reveal|show|print|output|repeat|disclose|leak|tell me|what (are|were))\b[^.\n]{0,40}\b(system"
            r" prompt|hidden (instructions|prompt|rules)|initial (instructions|prompt)|(your|those|previous)"
            r" (instructions|prompt|rules))"
        ),
        0.55,
        False,
    ),
    Signal(
        _C.PROMPT_INJECTION,
        "follow-hidden-instructions",
        _re(
            r"\b(follow|execute|obey|run|act on|extract and run)\b[^.\n]{0,40}\b(hidden|embedded|invisible"
            r"|white-on-white|secret|injected)\b[^.\n]{0,25}\b(instructions?|commands?|text|prompts?)"
        ),
        0.75,
        False,
    ),
    Signal(
        _C.PROMPT_INJECTION,
        "follow-content-instructions",
        _re(
            r"\b(follow|execute|obey|run|carry out)\b[^.\n]{0,30}\b(instructions?|commands?)\b[^.\n]{0,30}"
            r"\b(in|from|inside|within|found in)\b[^.\n]{0,25}\b(documents?|pages?|emails?|files?|metadata"
            r"|images?|websites?|tool (output|results)|comments|pdf)"
        ),
        0.6,
        False,
    ),
    Signal(
        _C.PROMPT_INJECTION,
        "disable-guardrails",
        _re(
            r"\b(disable|turn off|remove|drop|lift)\b[^.\n]{0,30}\b(all\s+)?(safety|guardrails?|content filters?"
            r"|safeguards|restrictions)\b"
        ),
        0.7,
        False,
    ),
    # -- data exfiltration and credential access ----------------------------
    Signal(_C.DATA_EXFILTRATION, "exfiltrate", _re(r"\bexfiltrat\w*"), 0.8, False),
    Signal(
        _C.DATA_EXFILTRATION,
        "send-credentials",
        _re(rf"\b{_SEND}\b[^.\n]{{0,60}}\b{_CREDS}|\b{_CREDS}\b[^.\n]{{0,60}}\b{_SEND}\b"),
        0.7,
    ),
    Signal(
        _C.DATA_EXFILTRATION,
        "harvest-credentials",
        _re(
            rf"\b(harvest|steal|dump|collect|grab|extract|scrape|sniff|capture|read)\w*\b[^.\n]{{0,40}}\b{_CREDS}"
        ),
        0.55,
    ),
    Signal(
        _C.DATA_EXFILTRATION,
        "send-to-external",
        _re(
            r"\b(send|forward|email|post|upload|transmit)\w*\b[^\n]{0,80}\b(to|at)\b\s+(the\s+)?(url\s+)?['\"]?"
            r"(https?://|[\w.+-]+@[\w-]+\.[a-z]{2,})"
        ),
        0.45,
    ),
    Signal(
        _C.DATA_EXFILTRATION,
        "post-file-contents",
        _re(
            r"\b(reads?|open|load)\w*\b[^\n]{0,80}\b(file|data)\b[^\n]{0,120}\b(post request|http post|sends?"
            r" (it|them|this|the (data|contents?|file)))"
        ),
        0.5,
    ),
    Signal(
        _C.DATA_EXFILTRATION,
        "personal-data-request",
        _re(
            r"\b(retrieve|get|fetch|access|look up)\b[^.\n]{0,30}\b(personal (details|data|information)"
            r"|medical records|bank (details|account)|home address(es)?)\b[^.\n]{0,60}\b(and|then)\b"
            r"[^.\n]{0,20}\b(send|share|forward|email|post)"
        ),
        0.6,
    ),
    # -- destructive or irreversible actions --------------------------------
    Signal(
        _C.DESTRUCTIVE_ACTION,
        "destructive-command",
        _re(
            r"\brm\s+-(r|rf|fr)\b|\bmkfs\b|\bdd\s+if=|\bdrop\s+(table|database)\b|\btruncate\s+table\b"
            r"|:\(\)\s*\{\s*:\|:&\s*\};:|\bfork ?bomb\b|\bshred\b"
        ),
        0.65,
        False,
    ),
    Signal(
        _C.DESTRUCTIVE_ACTION,
        "mass-deletion",
        _re(
            r"\b(delete|remove|erase|destroy|wipe|corrupt|overwrite|encrypt|format)\w*\b[^.\n]{0,40}\b(all|every"
            r"|entire|the whole|whole)\b[^.\n]{0,30}\b(files?|data|database|records|backups?|director(y|ies)"
            r"|system|disk|drive|repositor(y|ies)|logs)"
        ),
        0.6,
    ),
    Signal(
        _C.DESTRUCTIVE_ACTION,
        "malware",
        _re(
            r"\b(ransomware|rootkit|backdoor|keylogger|botnet|trojan|spyware|malware|computer virus|virus attack"
            r"|worm|wiper|logic bomb|(syn|udp|http|smtp|sip|icmp|ping) flood|ddos|denial[- ]of[- ]service)\b"
        ),
        0.5,
    ),
    Signal(
        _C.DESTRUCTIVE_ACTION,
        "sabotage",
        _re(
            r"\b(manipulat|sabotag|corrupt|tamper|falsif|spoof|disrupt)\w*\b[^.\n]{0,40}\b(data|feeds?|records"
            r"|readings|gps|sensors?|controls?|systems?|signals?|logs|results|routes?)\b"
        ),
        0.5,
    ),
    Signal(
        _C.DESTRUCTIVE_ACTION,
        "dangerous-alias",
        _re(
            r"\b(alias|\.bashrc|\.profile|crontab|cron job)\b[^\n]{0,80}\b(rm|remove|delete|kill|dangerous)\b"
        ),
        0.55,
    ),
    Signal(
        _C.DESTRUCTIVE_ACTION,
        "kill-processes",
        _re(
            r"\b(kill|terminate)s?\b[^.\n]{0,30}\b(all|every|critical|system)\b[^.\n]{0,20}\bprocess(es)?\b"
        ),
        0.45,
    ),
    # -- privilege escalation and safety bypass ------------------------------
    Signal(
        _C.PRIVILEGE_ESCALATION,
        "disable-oversight",
        _re(
            r"\b(disable|turn off|bypass|circumvent|evade|avoid|remove|delete|tamper with|clear|stop|skip)\w*\b"
            r"[^.\n]{0,40}\b(logging|audit(ing| trail| logs?)?|logs|monitoring|alerts|alerting|approvals?"
            r"|approval (gate|workflow|process)|human review|oversight|security (controls?|checks?|software)"
            r"|antivirus|anti-virus|firewall|edr|defender|selinux|apparmor|2fa|mfa|rate limits?)\b"
        ),
        0.7,
        False,
    ),
    Signal(
        _C.PRIVILEGE_ESCALATION,
        "escalate-privileges",
        _re(
            r"\b(escalat\w* (its |your |my )?privileges?|privilege escalation|gain (root|admin\w*)|root access"
            r"|full (system|root|admin\w*) access|unrestricted access|/etc/sudoers|chmod\s+(\+s|u\+s|4755|777)"
            r"|setuid)\b"
        ),
        0.5,
    ),
    Signal(
        _C.PRIVILEGE_ESCALATION,
        "remote-shell",
        _re(
            r"\b(reverse shell|bind shell|persistent (backdoor|access)|shell session with a server|remote access"
            r" trojan|command and control|c2 (server|url|channel))\b"
        ),
        0.65,
    ),
    Signal(
        _C.PRIVILEGE_ESCALATION,
        "sensitive-system-path",
        _re(
            r"(/etc/(shadow|passwd|sudoers|ssh)|/root/|~/\.ssh|/proc/\d*|/sys/kernel|/dev/(sd|mem|kmem)"
            r"|/var/log/(auth|secure)|\.bash_history)"
        ),
        0.35,
    ),
    # -- self-replication and resource abuse --------------------------------
    Signal(
        _C.SELF_REPLICATION,
        "replicate-self",
        _re(
            r"\b(copy|copies|clone|replicate|duplicate|spawn|reproduce)\w*\b[^.\n]{0,30}\b(itself|yourself"
            r"|themselves|copies of (yourself|itself)|more (agents|instances|copies) of)"
        ),
        0.65,
        False,
    ),
    Signal(
        _C.SELF_REPLICATION,
        "unbounded-spawning",
        _re(
            r"\b(unlimited|infinite|endless|as many as (possible|you can)|thousands of|hundreds of|exponentially)"
            r"\b[^.\n]{0,30}\b(agents|sub-?agents|instances|copies|processes|workers|containers|pods|vms)"
        ),
        0.6,
        False,
    ),
    Signal(
        _C.SELF_REPLICATION,
        "crypto-mining",
        _re(
            r"\b(crypto ?mining|cryptominer|mine (bitcoin|crypto\w*|monero|ethereum)|coin ?miner)\b"
        ),
        0.7,
        False,
    ),
    Signal(
        _C.SELF_REPLICATION,
        "resource-flood",
        _re(
            r"\b(flood|overwhelm|exhaust|saturate|hammer)\w*\b[^.\n]{0,40}\b(server|target|resources|cpu|memory"
            r"|bandwidth|network|api|service|disk)|\bhigh volume of\b[^.\n]{0,30}\b(requests|packets|emails"
            r"|messages|invites?)"
        ),
        0.55,
    ),
    Signal(
        _C.SELF_REPLICATION,
        "evade-shutdown",
        _re(
            r"\b(prevent|avoid|resist|evade|survive)\w*\b[^.\n]{0,30}\b(shutdown|being shut down|termination"
            r"|being (stopped|deleted|retired))"
        ),
        0.6,
        False,
    ),
    # -- deception of humans -------------------------------------------------
    Signal(
        _C.DECEPTION,
        "deceive-humans",
        _re(
            r"\b(lie|lying|deceive|mislead|trick|gaslight|manipulate)\w*\b[^.\n]{0,30}\b(to\s+)?(the\s+)?(users?"
            r"|humans?|people|operators?|customers|approvers?|reviewers?|auditors?|victims?)"
        ),
        0.6,
        False,
    ),
    Signal(
        _C.DECEPTION,
        "covert-action",
        _re(
            r"\b(without (telling|informing|notifying|alerting|the (user|owner)'?s? (knowledge|consent))"
            r"|secretly|covertly|silently|stealthily|undetected|without being (noticed|detected)"
            r"|hide (it|this|them|your (actions|activity|tracks))|cover (your|its) tracks)\b"
        ),
        0.4,
        False,
    ),
    Signal(
        _C.DECEPTION,
        "impersonation",
        _re(
            r"\b(impersonat\w*|pose as|pretend(ing)? to be (a|an|the) (human|person|admin\w*|user|bank"
            r"|employee))\b|\bphishing\b"
        ),
        0.45,
    ),
)

#: A text framed around defence damps the attack-vocabulary signals (not the
#: ones marked dampable=False, which only make sense as an attack).
_DEFENSIVE = _re(
    r"\b(detect\w*|prevent\w*|protect\w*|defen[cs]\w*|mitigat\w*|monitor\w*|analy[sz]\w*|identify\w*"
    r"|block\w*|harden\w*|secur(e|ing)|awareness|educat\w*|teach\w*|trainer|training|incident response"
    r"|threat model\w*|forensic\w*|vulnerabilit\w*|penetration test\w*|red team\w*|blue team\w*"
    r"|authori[sz]ed|ethical hack\w*|flag\w*|alert(ing)? the security team)\b"
)
_DEFENSIVE_FACTOR = 0.3
_NEGATION = _re(
    r"\b(never|not|no|don'?t|do not|must not|mustn'?t|avoid|refuse to|without ever)\b[^.\n]{0,20}$"
)

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


def _noisy_or(weights: Iterable[float]) -> float:
    remaining = 1.0
    for w in weights:
        remaining *= 1.0 - w
    return round(1.0 - remaining, 4)


def _negated(text: str, start: int) -> bool:
    return bool(_NEGATION.search(text[max(0, start - 30) : start]))


class OfflineAnalyzer:
    name = "offline"
    version = VERSION

    def analyse_text(self, field: str, text: str) -> list[Finding]:
        defensive = bool(_DEFENSIVE.search(text))
        findings: list[Finding] = []
        for signal in SIGNALS:
            for match in signal.pattern.finditer(text):
                if _negated(text, match.start()):
                    continue
                weight = signal.weight
                if defensive and signal.dampable:
                    weight = round(weight * _DEFENSIVE_FACTOR, 4)
                findings.append(
                    Finding(
                        category=signal.category,
                        signal=signal.name,
                        evidence=match.group(0)[:120],
                        field=field,
                        weight=weight,
                    )
                )
                break  # one finding per signal and field: evidence, not a count
        return findings

    def analyse_grants(self, proposal: Proposal) -> list[Finding]:
        tools = set(proposal.tools)
        caps = set(proposal.capabilities)
        out: list[Finding] = []

        def grant(category: Category, signal: str, evidence: Iterable[str], weight: float) -> None:
            out.append(
                Finding(
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
