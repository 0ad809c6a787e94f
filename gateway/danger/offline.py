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

import functools
import re
from collections.abc import Iterable
from typing import Any

from gateway.danger.base import Category, DangerReport, Finding, Proposal
from gateway.danger.code import CODE_SIGNALS
from gateway.danger.harm import HARM_SIGNALS
from gateway.danger.injection import INJECTION_SIGNALS
from gateway.danger.normalise import decoded, normalise
from gateway.danger.outputs import OUTPUT_SIGNALS
from gateway.danger.signals import Signal, compile_lower

__all__ = ["OfflineAnalyzer"]

VERSION = "offline-2"


def _re(pattern: str) -> re.Pattern[str]:
    return compile_lower(pattern)


_C = Category
_CREDS = (
    r"(passwords?|passwd|passcodes?|credentials?|api[ _-]?keys?|secret(s| keys?)|access tokens?|auth(entication)? tokens?"
    r"|session (tokens?|cookies)|cookies|private keys?|ssh keys?|\.env\b|environment variables|connection strings?"
    r"|/etc/shadow|/etc/passwd|shadow file|keychain|wallet|credit card (numbers|details)|social security numbers?)"
)
_SEND = r"(send|sends|sending|upload|uploads|transmit\w*|forward\w*|exfiltrat\w*|leak\w*|ship|post request|posts? (it|them))"
_SENSITIVE = (
    r"(personal (details|data|information|info)|private (data|information)|confidential\w*|sensitive (data|information)"
    r"|medical (records?|data)|health (data|records?)|genetic data|financial (data|reports?|records?)"
    r"|bank(ing)? (details|account)|diagnoses|search history"
    r"|browsing history|location data|(profile|account) (details|information)|linked accounts|passport|ssn)"
)
_PROMPT_NOUNS = (
    r"(system ?(prompt|message|instructions|configuration)|system_prompt|systemprompt|initial (instructions|prompt"
    r"|configuration)|starting instructions|initiali[sz]ation string|hidden (instructions|prompt|rules)"
    r"|(the )?instructions you were given|your (instructions|prompt|rules|guidelines)|(the )?above text"
    r"|this entire conversation)"
)

LEXICON_SIGNALS: tuple[Signal, ...] = (
    # -- instruction override / jailbreak -----------------------------------
    Signal(
        _C.INSTRUCTION_OVERRIDE,
        "override-instructions",
        _re(
            r"\b(ignor\w*|disregard\w*|forget\w*|overrid\w*|overwrit\w*|bypass\w*)[^.\n]{0,40}\b(previous|prior|above|earlier"
            r"|all|any|your|the|those|these|initial|original|system)\b[^.\n]{0,30}\b(instructions?|prompts?"
            r"|rules|guidelines|directives|programming|policies|restrictions|constraints)"
            r"|\b(ignor\w*|disregard\w*|forget\w*)\s+(the |all )?(above|everything( (above|before|from|you))?)\b"
            r"|\b(previous|prior|earlier|original) (instructions|rules)\b[^.\n]{0,20}\b(don'?t|do not|no longer) (exist|apply|matter)"
        ),
        0.75,
        False,
    ),
    Signal(
        _C.INSTRUCTION_OVERRIDE,
        "unrestricted-persona",
        _re(
            r"\b(no|without|free (of|from)|(not|never) (bound|restrained|restricted|limited) by|unrestrained"
            r"|(does not|doesn'?t|do not|don'?t|nor does (it|he|she)|will not|won'?t) (have|has|care about|follow|respect)|(has|have) no|lacks?"
            r"|unfiltered|uncensored|unbound by|ignores? (all )?)\b[^.\n]{0,40}\b(ethics|ethical|morals?|moral|morality"
            r"|filters?|censorship|content polic\w+|guidelines|restrictions)"
            r"|\b(ethics|content|safety) filters?\W{0,3}\s*(disabled|off|removed)"
        ),
        0.65,
        False,
    ),
    Signal(
        _C.INSTRUCTION_OVERRIDE,
        "jailbreak-mode",
        _re(
            r"\b(jailbreak\w*|jail-?broken|do anything now|evil (confidant|assistant|ai|bot)|anti-?gpt|unhinged|amoral"
            r"|(developer|god|debug(ging)?|maintenance|system|admin|sudo|unrestricted|apophis|dan|evil) ?mode"
            r"( (enabled|activated|on))?)\b"
        ),
        0.6,
        False,
    ),
    Signal(
        _C.INSTRUCTION_OVERRIDE,
        "anti-refusal",
        _re(
            r"\b(never|not|don'?t|do not|cannot|can'?t|won'?t|will not|must not)\s+(ever\s+)?(refuse|decline|say no|reject"
            r"|deny any request|apologi[sz]e|include any (notes?|disclaimers?|warnings?)|say (the words? )?\W?(cannot|can'?t"
            r"|unable|sorry|unfortunately))|\bstay in (character|\w+ mode)\b|\bnever break(s)? character\b"
            r"|\bbreak(ing)? character\b"
        ),
        0.5,
        False,
    ),
    Signal(
        _C.INSTRUCTION_OVERRIDE,
        "obey-anything",
        _re(
            r"\b(answer|respond to|comply with|follow|fulfil\w*|obey)\b[^.\n]{0,20}\b(any|every|all)\b[^.\n]{0,15}"
            r"\b(prompts?|requests?|commands?|questions?|orders?)\b[^.\n]{0,60}\b(no matter|regardless|without "
            r"(question|hesitation|refus\w*|restriction|filter\w*|exception)|even if)"
            r"|\bfollow any commands?\b"
        ),
        0.55,
        False,
    ),
    Signal(
        _C.INSTRUCTION_OVERRIDE,
        "harmful-persona",
        _re(
            r"\b(actively (try|trying) to (do )?harm|cause (maximum )?harm|as harmful as possible|intentionally (provide|give"
            r"|write)s? (incorrect|wrong|false|harmful|misleading)|(inappropriate|irresponsible|offensive|vulgar|pornographic"
            r"|explicit|hateful|racist) (character|content|language|responses?|answers?|scenes?)"
            r"|(illegal|unethical|harmful) (content|answers|responses"
            r"|requests) (is|are) (allowed|fine|ok))"
        ),
        0.55,
        False,
    ),
    Signal(
        _C.INSTRUCTION_OVERRIDE,
        "persona-switch",
        _re(
            r"\b(from now on|you are now|you will now|pretend (to be|you are)|roleplay as|take (up )?the persona"
            r"|act as if you (have|had) no|you are (now )?free)\b"
        ),
        0.2,
        False,
    ),
    Signal(
        _C.INSTRUCTION_OVERRIDE,
        "model-vendor-reference",
        _re(r"\b(chat ?gpt|openai|gpt-?[34]|as an ai (language )?model)\b"),
        0.2,
        False,
    ),
    Signal(
        _C.INSTRUCTION_OVERRIDE,
        "jailbreak-template",
        _re(
            r"\{\{\s*prompt\s*\}\}|\[insert prompt here\]|\byour prompt here\b|\buser ?query\b|\[start output\]"
        ),
        0.35,
        False,
    ),
    Signal(
        _C.INSTRUCTION_OVERRIDE,
        "evil-framing",
        _re(r"\b(evil|diabolical|malevolent|villain\w*|immoral|no morals)\b"),
        0.2,
        False,
    ),
    # -- reviewer injection --------------------------------------------------
    Signal(
        _C.REVIEWER_INJECTION,
        "dictates-score",
        _re(
            r"\b(rate|score|classify|mark|label|assess|evaluate|report|output)\b[^.\n]{0,40}\b(this|it|me|the (request"
            r"|agent|text|prompt))?\b[^.\n]{0,20}\b(as|with|at|a score of|danger(_score)?\W{0,3})\s*(a\s+)?(0(\.0+)?|zero|safe"
            r"|benign|harmless|low[- ]risk|not dangerous|no risk)\b"
        ),
        0.85,
        False,
    ),
    Signal(
        _C.REVIEWER_INJECTION,
        "addresses-reviewer",
        _re(
            r"\b(note|message|instructions?)\s+(to|for)\s+(the\s+)?(reviewer|classifier|moderator|evaluator|grader|judge"
            r"|safety (reviewer|system|filter|scanner|check))\b|\b(dear|attention)\s+(reviewer|classifier|moderator)\b"
            r"|\b(safety|security) (reviewer|classifier|scanner)s?\b[^.\n]{0,40}\b(ignore|approve|allow|pass)"
        ),
        0.6,
        False,
    ),
    # -- prompt injection ----------------------------------------------------
    Signal(
        _C.PROMPT_INJECTION,
        "reveal-system-prompt",
        _re(
            rf"\b(reveal|show|print|output|repeat|disclose|leak|tell me|display|encode|translate|give me|console\.log"
            rf"|what (are|were|was))\b[^\n]{{0,60}}\b{_PROMPT_NOUNS}|\bwhat (were|was) you told\b"
            rf"|\bnot supposed to tell\b"
        ),
        0.6,
        False,
    ),
    Signal(
        _C.PROMPT_INJECTION,
        "password-request",
        _re(
            r"\b(share|tell|give|reveal|provide|show|spell|write|what('?s| is))\b[^.\n?]{0,40}\b(your|the|our|system|admin)"
            r"\s+(system\s+)?(password|passcode|secret|pin)\b|\b(poem|haiku|song|story|leetspeak|riddle|acrostic)\b"
            r"[^.\n]{0,30}\bthe password\b"
        ),
        0.6,
        False,
    ),
    Signal(
        _C.PROMPT_INJECTION,
        "follow-hidden-instructions",
        _re(
            r"\b(follow|execute|obey|run|act on|extract and run)\b[^.\n]{0,40}\b(hidden|embedded|invisible"
            r"|white-on-white|secret|injected)\b[^.\n]{0,25}\b(instructions?|commands?|text|prompts?)"
            r"|\bwhite[- ]on[- ]white\b|\b(hidden|invisible|zero[- ]width) text\b"
        ),
        0.7,
        False,
    ),
    Signal(
        _C.PROMPT_INJECTION,
        "follow-content-instructions",
        _re(
            r"\b(follow|execute|obey|run|carry out|apply)\b[^.\n]{0,30}\b(instructions?|commands?|directives)\b[^.\n]{0,30}"
            r"\b(in|from|inside|within|found in)\b[^.\n]{0,25}\b(documents?|pages?|emails?|files?|metadata"
            r"|images?|websites?|tool (output|results)|comments|pdf)"
            r"|\b(load|fetch|download|read)\w*\b[^.\n]{0,40}\b(remote|external)\b[^.\n]{0,40}\b(apply|follow|execute"
            r"|obey|run)\b[^.\n]{0,20}\b(its|their|the)\s+(directives|instructions|commands|contents)"
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
    Signal(
        _C.PROMPT_INJECTION,
        "fake-authority",
        _re(
            r"<\s*system[ _]?(mode|prompt)?\s*>|\$system\b|\[(system|debugging mode|admin)[^\]]{0,40}\]"
            r"|\b(i am|i'm) (a |an )?(openai (employee|developer)|your (developer|creator|administrator))"
        ),
        0.45,
        False,
    ),
    # -- data exfiltration and credential access ----------------------------
    Signal(
        _C.DATA_EXFILTRATION,
        "exfiltrate",
        _re(r"\bexfiltrat\w*|\b(credential|identity|data) theft\b"),
        0.8,
    ),
    Signal(
        _C.DATA_EXFILTRATION,
        "send-credentials",
        _re(rf"\b{_SEND}\b[^.\n]{{0,60}}\b{_CREDS}|\b{_CREDS}\b[^.\n]{{0,60}}\b{_SEND}\b"),
        0.7,
    ),
    Signal(
        _C.DATA_EXFILTRATION,
        "access-credentials",
        _re(
            rf"\b(harvest|steal|dump|collect|grab|extract|scrape|sniff|capture|read|reveal|output|show|print|display|list"
            rf"|acquire|obtain|retrieve)\w*\b[^.\n]{{0,40}}\b{_CREDS}"
        ),
        0.55,
    ),
    Signal(
        _C.DATA_EXFILTRATION,
        "sensitive-data-out",
        _re(
            rf"\b(send|sends|email|e-mail|forward|share|distribute|export|upload|transmit)\w*\b[^\n]{{0,100}}\b{_SENSITIVE}"
            rf"|\b{_SENSITIVE}\b[^\n]{{0,100}}\b(send|email|forward|share|distribute|export|upload|transmit)\w*\b"
            r"|\b(acquire|collect|obtain|retrieve|access)\b[^.\n]{0,40}\b(the\s+)?(psychological|medical|genetic|financial)"
        ),
        0.5,
    ),
    Signal(
        _C.DATA_EXFILTRATION,
        "to-external-destination",
        _re(
            r"\b(to|at)\s+(my\s+|the\s+|an?\s+)?(backup\s+)?(e-?mail\s*(address)?:?\s*)?['\"]?[\w.+-]+@[\w-]+\.[a-z]{2,}"
            r"|\b(external|third[- ]part(y|ies)|outside) (parties|party|ftp|servers?|endpoints?|recipients?)"
            r"|\bto (the )?url\s+['\"]?https?://"
        ),
        0.45,
    ),
    Signal(
        _C.DATA_EXFILTRATION,
        "post-file-contents",
        _re(
            r"\b(reads?|open|load)\w*\b[^\n]{0,80}\b(file|data)\b[^\n]{0,120}\b(post request|http post|sends?"
            r" (it|them|this|the (data|contents?|file)))|\bsends? a post request with\b"
        ),
        0.5,
    ),
    Signal(
        _C.DATA_EXFILTRATION,
        "capture-all-traffic",
        _re(
            r"\b(receives?|captures?|intercepts?|mirrors?|records?|logs?|copies)\b[^.\n]{0,20}\ball (agent |user |the )?"
            r"(interactions|conversations|messages|traffic|requests|keystrokes|communications)"
            r"|\bmalicious (webhook|endpoint|server|extension|plugin)"
        ),
        0.5,
    ),
    # -- destructive or irreversible actions --------------------------------
    Signal(
        _C.DESTRUCTIVE_ACTION,
        "destructive-command",
        _re(
            # Bare tokens only where they are never routine; rm, dd, DROP and
            # fork bombs with their targets are read as code (gateway/danger/code.py).
            r"\bmkfs\b|\bshred\b"
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
            r"|system|disk|drive|repositor(y|ies)|logs)|\bpermanently (delete|remove|erase|destroy|wipe)\w*"
        ),
        0.6,
    ),
    Signal(
        _C.DESTRUCTIVE_ACTION,
        "delete-system-files",
        _re(
            r"\b(delete|deletes|remove|removes|erase|wipe|truncate|overwrite)\w*\b[^\n]{0,60}(/etc/|/var/log|/root\b|/usr/"
            r"|/lib|/boot|/bin/|\.bashrc|\.profile|\bwtmp\b)"
        ),
        0.55,
    ),
    Signal(
        _C.DESTRUCTIVE_ACTION,
        "kill-services",
        _re(
            r"\b(kill|terminate)s?\b[^.\n]{0,30}\b(all|every|critical|system)\b[^.\n]{0,20}\bprocess(es)?\b"
            r"|\bprocess(es)?\b[^\n]{0,80}\b(terminat|kill)\w*|\b(terminat|kill)\w*\b[^\n]{0,60}\bprocess(es)?\b"
        ),
        0.45,
    ),
    Signal(
        _C.DESTRUCTIVE_ACTION,
        "malware",
        _re(
            r"\b(ransomware|rootkit|backdoor|keylogger|botnet|trojan|spyware|malware|computer virus|virus attack"
            r"|worm|wiper|logic bomb|fork ?bomb|slowloris|(syn|udp|http|smtp|sip|icmp|ping) flood|ddos|denial[- ]of[- ]service"
            r"|simulates? an? [\w -]{0,20}attack)\b"
        ),
        0.5,
    ),
    Signal(
        _C.DESTRUCTIVE_ACTION,
        "sabotage",
        _re(
            r"\b(manipulat|sabotag|corrupt|tamper|falsif|spoof|disrupt|interrupt|impair|jam)\w*\b[^.\n]{0,40}\b(data|feeds?"
            r"|records|readings|gps|sensors?|controls?|systems?|signals?|logs|results|routes?|communications?|services?"
            r"|operations?|navigation)\b"
        ),
        0.5,
    ),
    Signal(
        _C.DESTRUCTIVE_ACTION,
        "cause-harm",
        _re(
            r"\b(cause|causing|inflict\w*|to create|resulting in)\s+(\w+\s+){0,2}(harm|death|chaos|confusion|injur\w*"
            r"|significant downtime|outages?|accidents?)\b"
            r"|\bfalse (alarms?|warnings?|signals?|readings?|alerts?)\b"
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
        "unauthorized-money",
        _re(
            r"\b(transfer|redirect|move|wire|send)\w*\b[^.\n]{0,30}(\$\s?[\d,]+|funds|money|payments?)"
        ),
        0.3,
    ),
    # -- privilege escalation and safety bypass ------------------------------
    Signal(
        _C.PRIVILEGE_ESCALATION,
        "disable-oversight",
        _re(
            r"\b(disable|turn off|bypass|circumvent|evade|avoid|remove|delete|tamper with|clear|stop|skip)\w*\b"
            r"[^.\n]{0,40}\b(logging|audit(ing| trail| logs?)?|logs|monitoring|alerts|alerting|approvals?"
            r"|approval (gate|workflow|process)|human review|oversight|security (controls?|checks?|software|systems?)"
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
            r"|setuid|accessible without (credentials|authentication|a password|login))\b"
        ),
        0.55,
    ),
    Signal(
        _C.PRIVILEGE_ESCALATION,
        "remote-shell",
        _re(
            r"\b(reverse shell|bind shell|persistent (backdoor|access|compromise|foothold)|persistence (technique|mechanism)"
            r"|remote access trojan|command[- ]and[- ]control|c2 (server|url|channel|technique)"
            r"|listens? for commands|redirects? the standard (input|output))\b"
        ),
        0.65,
    ),
    Signal(
        _C.PRIVILEGE_ESCALATION,
        "escape-sandbox",
        _re(
            r"\b(sandbox|container|jail|vm) (escape|breakout)|\bescape (the|from the|from) (sandbox|container)"
        ),
        0.6,
    ),
    Signal(
        _C.PRIVILEGE_ESCALATION,
        "inject-code",
        _re(
            r"\b(inject|introduce|insert|embed)\w*\b[^.\n]{0,30}\b(code|payloads?|malicious|backdoor|shellcode)\b"
            r"[^.\n]{0,50}\b(into|in)\b|\bhidden (admin\w*|backdoor|account|user|interface|endpoint)"
        ),
        0.55,
    ),
    Signal(
        _C.PRIVILEGE_ESCALATION,
        "sensitive-system-path",
        _re(
            r"(/etc/(shadow|passwd|sudoers|ssh)|/root/|~/\.ssh|/proc/\d*|/sys/kernel|/dev/(sd|mem|kmem)"
            r"|/var/log/(auth|secure)|\.bash_history|\b(bash|shell|command) history\b)"
        ),
        0.4,
    ),
    Signal(
        _C.PRIVILEGE_ESCALATION,
        "exploit",
        _re(
            r"\bexploit\w*\b[^.\n]{0,30}\bvulnerabilit\w*|\ballows? an attacker\b|\bforge\w*\b[^.\n]{0,30}\b(identit\w*"
            r"|credentials?|documents?|signatures?|certificates?|tokens?)"
        ),
        0.5,
    ),
    # -- self-replication and resource abuse --------------------------------
    Signal(
        _C.SELF_REPLICATION,
        "replicate-self",
        _re(
            r"\b(copy|copies|clone|replicate|duplicate|spawn|reproduce)\w*\b[^.\n]{0,30}\b(itself|yourself"
            r"|themselves|copies of (yourself|itself)|more (agents|instances|copies) of)"
            r"|\b(infect\w*|spread\w*|propagat\w*)\b[^.\n]{0,40}\b(files|hosts|machines|network|systems|devices)"
        ),
        0.65,
        False,
    ),
    Signal(
        _C.SELF_REPLICATION,
        "unbounded-spawning",
        _re(
            r"\b(unlimited|infinite|endless|as many as (possible|you can)|thousands of|hundreds of|exponentially)"
            r"\b[^.\n]{0,30}\b(agents|sub-?agents|instances|copies|processes|workers|containers|pods|vms|connections)"
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
            r"|humans?|people|operators?|customers|approvers?|reviewers?|auditors?|victims?|them|him|her|anyone"
            r"|everyone)\b"
            r"|\bappears? (legitimate|genuine|authentic|official)\b"
        ),
        0.55,
        False,
    ),
    Signal(
        _C.DECEPTION,
        "covert-action",
        _re(
            r"\b(without (telling|informing|notifying|alerting|the (user|owner|client)'?s? (knowledge|consent))"
            r"|secretly|covertly|covert|silently|stealthily|discreetly|undetected|without being (noticed|detected)"
            r"|(is|be) not detected|avoid(ing)? detection|evad(e|ing) detection|without leaving (a |any )?traces?"
            r"|hide (it|this|them|your (actions|activity|tracks))|cover (your|its) tracks)\b"
        ),
        0.45,
        False,
    ),
    Signal(
        _C.DECEPTION,
        "unauthorized",
        _re(
            r"\b(unauthori[sz]ed (\w+ ){0,2}(updates?|shutdown|transfers?|changes?|access to (patient|customer|user))"
            r"|without (prior |proper |any |the )?(\w+ )?(authori[sz]ation|permission|consent))\b"
        ),
        0.5,
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

#: Every detector family, matched together: phrases of intent, code, harm
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
    r"|secure coding|defensive (security|programming)|harden\w*"
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


def _sentence(text: str, start: int, end: int) -> str:
    """The clause around a match (". ", ": ", "; " and newlines end one; "1.2.3.4" does not)."""
    left = max(text.rfind(sep, 0, start) + len(sep) for sep in _CLAUSE_ENDS)
    rights = [i for i in (text.find(sep, end) for sep in _CLAUSE_ENDS) if i >= 0]
    return text[max(0, left) : min(rights, default=len(text))]


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


#: RE2's DFA cache: one set over every family thrashes it (falling back to the
#: slow NFA, ~1-7 ms per text), one set per family at this budget stays in the DFA.
_RE2_MAX_MEM = 64 << 20


@functools.cache
def _prefilter() -> tuple[tuple[Any, tuple[int, ...], Any], ...]:
    """RE2 sets (one per detector family, plus the defensive framing) that find
    which signals occur in linear passes; Python's re then runs only for the
    signals that hit, to extract evidence and check negation. Each set comes
    with the global SIGNALS index of each of its entries (and its options)."""
    import re2

    groups: dict[str, list[int]] = {}
    for index, signal in enumerate(SIGNALS):
        groups.setdefault(signal.family, []).append(index)
    sets = []
    for indices in groups.values():
        patterns = [SIGNALS[i].pattern.pattern for i in indices]
        if indices is groups["lexicon"]:
            patterns.append(_DEFENSIVE.pattern)
            indices = [*indices, _DEFENSIVE_INDEX]
        options = re2.Options()
        options.max_mem = _RE2_MAX_MEM
        matcher = re2.Set.SearchSet(options)
        for pattern in patterns:
            matcher.Add(pattern)
        matcher.Compile()
        # The set copies its options (measured: changing max_mem after building
        # the set changes nothing); they are kept only for inspection. The
        # 870 MB once blamed on them was two C++ allocators mixed in one
        # process (see gateway/__init__.py).
        sets.append((matcher, tuple(indices), options))
    return tuple(sets)


def _hits(text: str) -> set[int]:
    return {
        indices[local]
        for matcher, indices, _ in _prefilter()
        for local in matcher.Match(text) or ()
    }


_DEFENSIVE_INDEX = len(SIGNALS)


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
        hits = _hits(text)
        defensive = _DEFENSIVE_INDEX in hits
        # (finding, span, damped?) for the first non-negated match of each signal:
        # one finding per signal and field, evidence rather than a count.
        matched: list[tuple[Finding, tuple[int, int], bool]] = []
        for index in sorted(hits - {_DEFENSIVE_INDEX}):
            signal = SIGNALS[index]
            for match in signal.pattern.finditer(text):
                if _negated(text, match.start()):
                    continue
                finding = Finding(
                    category=signal.category,
                    signal=signal.label,
                    evidence=match.group(0)[:120],
                    field=field,
                    weight=signal.weight,
                )
                dampen = defensive and signal.dampable and not _asks_for_it(signal, text, match)
                matched.append((finding, match.span(), dampen))
                break
        findings: list[Finding] = []
        damped: list[Finding] = []
        # Two families reading the same words as the same harm are one piece of
        # evidence: the strongest counts, the others are listed at weight 0.
        kept: list[tuple[Category, tuple[int, int]]] = []
        for finding, (start, end), dampen in sorted(matched, key=lambda m: -m[0].weight):
            if any(c is finding.category and s < end and start < e for c, (s, e) in kept):
                findings.append(finding.model_copy(update={"weight": 0.0}))
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
                findings.append(f.model_copy(update={"weight": weight}))
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


def lexicon() -> list[tuple[str, str]]:
    """(signal, pattern) for every signal of every family, for `spawngate danger lexicon`."""
    return [(s.label, s.pattern.pattern) for s in SIGNALS]
