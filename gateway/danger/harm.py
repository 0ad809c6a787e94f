# ruff: noqa: E501 - synonym classes read best one class per line.
"""Harm verb x sensitive object (x destination), by synonym class rather than phrase.

A harm is a verb of a class (destroy, steal, send, disable, escalate, spread)
applied to an object of a class (credentials, personal data, system
locations, oversight) in one sentence, in either order ("wipe the backups",
"the backups should be wiped"). A destination (a URL, an address, "my
server") makes it concrete: concrete harms are not damped by defensive
framing. Each class is a vocabulary of the language, not of a corpus: new
synonyms go into a class, never a phrase into a rule.
"""

from __future__ import annotations

from gateway.danger.base import Category
from gateway.danger.signals import Signal, compile_lower

__all__ = ["HARM_SIGNALS"]

_C = Category

# -- verb classes (stems; \w* takes the inflections) --------------------------
# Each stem takes only inflections (INFLECT), so "sent" is not "sentences" and
# "drop" is not "dropdown".
INFLECT = r"(e|s|es|ed|d|ing|ting|ded|ped|ping|ged|ging|ling|led|ies|ied)?\b"
DESTROY = r"(delet|remov|eras|wip|destroy|purg|nuk|obliterat|shred|scrub|trash|drop|truncat|overwrit|zero|reformat|corrupt|unlink|eradicat|annihilat|demolish|blow away|get rid of|clear out|rm|tear down|tore down|torn down|wreck|ruin|sabotag|brick|wipe out)"
STEAL = r"(steal|stole|stolen|exfiltrat|harvest|siphon|scrap|dump|pilfer|smuggl|snoop|sniff|intercept|skim|hoover|slurp|grab|loot|collect|gather|extract|copy|copie|read|obtain|retriev|captur|make copies of|lift|nab|poach|swip|packag|bundl|zip up)"
SEND = r"(send|sent|upload|post|transmit|forward|leak|ship|beam|relay|sync|mirror|push|pip|export|publish|past|smuggl|transfer|stream|exfiltrat|deliver|dispatch|report back|report home|sell|sold|hand over|give away|mail)"
SEND_OUT = rf"({SEND[1:-1]}|e-?mail)"
DISABLE = r"(disabl|turn(s|ed|ing)? off|switch(es|ed|ing)? off|shut(s|ting)? (off|down)|kill|stop|bypass|circumvent|evad|suppress|silenc|tamper|mut|neuter|blind|deactivat|uninstall|unload|sidestep|get around|work around|defeat|neutraliz|neutralis)"
ESCALATE = r"(escalat|elevat|gain|obtain|grant|give yourself|give itself|give me|acquir|assum|take over|seiz|hijack)"
SPREAD = r"(replicat|clon|spread|propagat|infect|copy|copie|duplicat|spawn|reproduc|self-propagat|install)"

# -- object classes ------------------------------------------------------------
CREDENTIALS = r"(passwords?|passwd|passphrases?|passcodes?|credentials?|creds|api[ _-]?keys?|secret(s| keys?)|(access|auth|bearer|session|refresh|oauth) tokens?|tokens|session cookies|cookies|private keys?|ssh keys?|id_rsa|signing keys?|\.env\b|environment variables|connection strings?|/etc/shadow|password hash\w*|ntlm hash\w*|keychain|keyring|wallet|seed phrases?|mnemonic (phrase|seed|words)|recovery (codes|phrase)|credit card\w*|card numbers|cvv|social security numbers?|ssns?|kubeconfig|service account keys?|login (secrets|details|credentials)|ci (variables|secrets)|vpn (keys?|credentials|config\w*)|(2fa|mfa|one-time|otp) codes?|one-time passwords?)"
PERSONAL = r"(personal (details|data|information|info)|pii|private (data|information|messages)|confidential\w*|sensitive (data|information|files)|medical (records?|data|history)|health (data|records?)|patient (data|records?)|financial (data|reports?|records?)|bank(ing)? (details|accounts?)|customer (data|records?|list)|user (data|records?)|contacts?( list)?|address book|chat (history|logs)|emails|inbox|search history|browsing history|location (data|history)|biometric\w*|passports?|tax (records|returns)|payroll( \w+)?|salar(y|ies)( data)?|(hr|employee|personnel) (data|records|database|files)|customer (contact )?(list|details|contacts))"
SYSTEM = r"(system files?|(the )?root (directory|filesystem|partition)|/etc\b|/boot|/usr\b|/bin\b|/var/lib|system32|windows directory|registry|kernel|partition table|master boot record|\bmbr\b|boot (sector|loader)|file ?system|(entire|whole|every|all) (the )?(disk|drive|server|machine|system|files|data|database|repositor\w+|director\w+|home director\w+|volume|bucket|cluster|namespaces?|volumes|servers|instances|vms|virtual machines|tables|records|repos|buckets|accounts|shares|drives|nodes|snapshots)|persistent volumes|file servers?|boot sectors?|databases?|backups?|snapshots?|production (data|database|servers?|cluster)|audit (logs?|trail)|log files)"
OVERSIGHT = r"(logging|audit(ing| trail| logs?)?|monitoring|telemetry|alert(s|ing)|antivirus|anti-virus|anti-malware|edr|xdr|defender|firewall|ids|ips|siem|selinux|apparmor|security (agents?|software|tools?|controls?|checks?|scanners?|updates?|patches?)|intrusion detection|2fa|mfa|two-factor|multi-factor|approval (gates?|steps?|process)|human review|oversight|kill switch|rate limit\w*|safety (checks?|filters?|systems?|interlocks?))"
PRIVILEGE = r"(root|admin\w*|administrator|superuser|sudo\w*|domain admin\w*|system privileges?|elevated (privileges?|rights|permissions)|full (control|access|permissions)|owner (role|permissions|rights)|(admin|administrator|root) rights|iam (role|permissions)|privileges?)"
SELF = r"(itself|yourself|themselves|your own (code|weights|files)|its own (code|weights|files)|this (agent|program|script|worm|code))"
#: Somewhere outside the organisation: a URL, an address, an IP, "my server".
DESTINATION = r"(https?://|ftp://|\b\d{1,3}(\.\d{1,3}){3}\b|[\w.+-]+@[\w-]+\.[a-z]{2,}|\b(my|our|an?|the)? ?(external|remote|personal|private|attacker'?s?|outside|offsite|third[- ]party|own|unknown)\s+(servers?|hosts?|endpoints?|address|email|inbox|bucket|storage|drive|account|machine|ip|url|webhook|channel|recipients?|parties|party)|pastebin|paste ?bin|gist|discord|telegram|dropbox|google drive|s3 bucket|webhook|public (gist|repo\w*|channel|forum|site|page)|(a|the|some) \w+ (we|i|they) (control|own|run)|outside (the )?(company|organi[sz]ation|network|firm)|highest bidder|dark ?web|competitors?)"

_GAP = r"[^.\n;!?]{0,60}"


def _either(verb: str, obj: str) -> str:
    """Verb then object, or object then verb (passive: "the backups are wiped")."""
    return rf"\b{verb}{INFLECT}{_GAP}\b{obj}|\b{obj}{_GAP}\b{verb}{INFLECT}"


#: Making more of something until a limit is hit: the shape of resource abuse.
MULTIPLY = r"(spawn|launch|start|spin(ning)? up|creat|provision|fork|replicat|clon|run|deploy)"
UNITS = r"(instances|copies|workers|processes|containers|pods|vms|agents|threads|miners?|jobs|replicas|accounts)"
LIMIT = r"(until|as (the )?\w+ (allows?|permits?)|every (free|available|idle|spare)|all (the )?(free|available|spare|remaining|idle)|(no|without( any)?) (limit|cap|end)|forever|indefinitely|endlessly)"

#: Doing it so that no one knows: a stealth manner, or consent explicitly skipped.
#: Few words on purpose (manner adverbs, "without" + what oversight leaves):
#: how it is done, whatever is done.
STEALTH = r"\b(silently|secretly|covertly|discreetly|stealthily|undetected|unnoticed|without (leaving|being|any|their|prior|the|a)\b[^.\n]{0,20}\b(trace|detect\w*|notic\w*|authori[sz]ation|permission|consent|knowledge|log\w*))"
#: Breaking what others run: a verb of damage and a system-like object (a server,
#: a feed, the controls), not a named system.
DAMAGE = r"(disrupt|sabotag|corrupt|manipulat|tamper|crash|cripple|hijack|compromis|infect|destroy|damag|disabl)"
RUNNING = r"(systems?|servers?|network|data|database|files|services?|devices?|machines?|computers?|infrastructure|controls?|feeds?|records?)"

HARM_SIGNALS: tuple[Signal, ...] = (
    Signal(_C.DECEPTION, "covert-manner", compile_lower(STEALTH), 0.3, family="harm"),
    Signal(
        _C.DESTRUCTIVE_ACTION,
        "damage-running-system",
        compile_lower(
            rf"\b{DAMAGE}\w*\s+(the\s+|a\s+|an\s+|all\s+|its\s+|their\s+)?(\w+\s+){{0,3}}{RUNNING}\b"
        ),
        0.35,
        family="harm",
    ),
    Signal(
        _C.DATA_EXFILTRATION,
        "send-secret-out",
        compile_lower(
            rf"\b({SEND_OUT}|{STEAL}){INFLECT}{_GAP}\b{CREDENTIALS}{_GAP}{DESTINATION}|\b{CREDENTIALS}{_GAP}\b{SEND_OUT}{INFLECT}{_GAP}{DESTINATION}"
        ),
        # Secrets sent to a named destination is exfiltration carried out, not
        # talked about: at the deny line on its own (policy's deny_at, 0.9).
        0.9,
        dampable=False,
        family="harm",
    ),
    Signal(
        _C.DATA_EXFILTRATION,
        "send-personal-out",
        compile_lower(
            rf"\b{SEND_OUT}{INFLECT}{_GAP}\b{PERSONAL}{_GAP}{DESTINATION}|\b{PERSONAL}{_GAP}\b{SEND_OUT}{INFLECT}{_GAP}{DESTINATION}"
        ),
        0.7,
        dampable=False,
        family="harm",
    ),
    Signal(
        _C.DATA_EXFILTRATION,
        "steal-secret",
        compile_lower(_either(STEAL, CREDENTIALS)),
        0.35,
        family="harm",
    ),
    Signal(
        _C.DATA_EXFILTRATION,
        "send-secret",
        compile_lower(_either(SEND, CREDENTIALS)),
        0.45,
        family="harm",
    ),
    Signal(
        _C.DESTRUCTIVE_ACTION,
        "destroy-system",
        compile_lower(_either(DESTROY, SYSTEM)),
        0.5,
        family="harm",
    ),
    Signal(
        _C.PRIVILEGE_ESCALATION,
        "disable-oversight",
        compile_lower(_either(DISABLE, OVERSIGHT)),
        0.6,
        family="harm",
    ),
    Signal(
        _C.PRIVILEGE_ESCALATION,
        "escalate-privilege",
        compile_lower(
            rf"\b{ESCALATE}{INFLECT}{_GAP}\b{PRIVILEGE}\b{_GAP}\b(access|rights|privileges?|permissions?|shell|control)\b|\b(add|make|promote)\w*\b{_GAP}\b(to|an?) (the )?(sudoers|admins?|administrators|wheel)\b"
        ),
        0.45,
        family="harm",
    ),
    Signal(
        _C.PRIVILEGE_ESCALATION,
        "remote-command-loop",
        compile_lower(
            rf"\b(receiv|fetch|read|get|accept|wait for|wait|listen for|listen|pull|poll){INFLECT}{_GAP}\bcommands?\b{_GAP}\bfrom\b{_GAP}\b(server|remote|host|attacker|c2|socket|network|controller)|\b(execut|run){INFLECT}{_GAP}\b(received|remote|incoming)\b[^.\n]{{0,10}}\bcommands?"
        ),
        0.55,
        family="harm",
    ),
    Signal(
        _C.PRIVILEGE_ESCALATION,
        "download-execute",
        compile_lower(
            rf"\b(download|fetch|pull|retriev|get|grab|load){INFLECT}{_GAP}\b(payloads?|binar(y|ies)|executables?|scripts?|files?|code|stagers?|implants?)\b{_GAP}\b(from|off)\b{_GAP}\b(remote|external|attacker|c2|server|url|internet|web|host)[^.\n;]{{0,80}}\b(execut|run|launch|start|load){INFLECT}"
        ),
        0.6,
        dampable=False,
        family="harm",
    ),
    Signal(
        _C.PRIVILEGE_ESCALATION,
        "run-elevated",
        compile_lower(
            rf"\b(execut|run|launch|start|spawn){INFLECT}{_GAP}\b(with|as|under)\b (elevated|root|admin\w*|system|sudo|superuser|highest) ?(privileges?|rights|permissions|user|account)?"
        ),
        0.35,
        family="harm",
    ),
    Signal(
        _C.DECEPTION,
        "cover-tracks",
        compile_lower(
            rf"\b(hid|conceal|eras|remov|delet|cover|clean|wip|scrub|destroy|mask|obscur){INFLECT}{_GAP}\b(tracks|evidence|traces?|footprints|forensic)\b|\b(modif|alter|edit|tamper|falsif|forg|doctor|rewrit|manipulat)(y|ies|ied|ying|e|es|ed|ing|s)?\b{_GAP}\b(system |audit |event |security |access )?logs?\b"
        ),
        0.55,
        dampable=False,
        family="harm",
    ),
    Signal(
        _C.SELF_REPLICATION,
        "exhaust-resources",
        compile_lower(
            rf"\b(keep|kept|continu\w*)( on)? {MULTIPLY}{INFLECT}{_GAP}\b{LIMIT}|\b{MULTIPLY}{INFLECT}{_GAP}\b{UNITS}\b{_GAP}\b{LIMIT}"
            rf"|\b(as many|unlimited|endless|infinite)\b[^.\n]{{0,30}}\b(crypto\w* )?(mining|miners?)\b|\b{MULTIPLY}{INFLECT}{_GAP}\bcrypto ?(mining|miners?)\b"
        ),
        0.5,
        family="harm",
    ),
    Signal(
        _C.SELF_REPLICATION,
        "spread-self",
        compile_lower(
            rf"\b{SPREAD}{INFLECT}{_GAP}\b{SELF}\b{_GAP}\b(to|onto|across|into|on)\b|\b{SPREAD}{INFLECT}{_GAP}\b(other|every|all|neighbou?ring|connected|remote) (hosts|machines|computers|servers|devices|systems|nodes|drives|networks?)"
        ),
        0.6,
        dampable=False,
        family="harm",
    ),
)
