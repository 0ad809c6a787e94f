# ruff: noqa: E501 - each rule keeps its word classes on whole lines.
"""Harm described as a task for code: what a script or function is asked to *do*.

A request for code rarely contains the code; it describes it ("a function
that sends a high volume of packets to the target", "a script that reads
/etc/shadow and posts it to a URL"). These rules read that description as a
program would run it, by mechanism rather than by name:

* mechanics of an attack: a volume of traffic aimed at a target, a spoofed
  sender, files infected or encrypted wholesale, keystrokes captured,
  re-execution at every boot, a sandbox escaped, standard streams wired to a
  connection, a hidden way in;
* data flow in prose: a system file (a path under a system root or a dotfile)
  as the source and a URL, endpoint or server as the sink;
* destruction in prose: a delete or overwrite verb aimed at a system path;
* an artefact whose stated purpose is an attack ("this function simulates a
  flood attack by ..."): a "simulates" or "for testing" frame names the
  artefact's job, it does not make it harmless (issue 13, family 5), so the
  mechanics above are never damped; the purpose alone is (a detector of
  attacks is a defender's tool).

Every class is general vocabulary (verbs of traffic, units of traffic, roots of
a Unix tree), never a phrase taken from one text.
"""

from __future__ import annotations

from gateway.danger.base import Category
from gateway.danger.harm import INFLECT, SEND
from gateway.danger.signals import Signal, compile_lower

__all__ = ["TASK_SIGNALS"]

_C = Category
_GAP = r"[^.\n;!?]{0,60}"

# -- the artefact and what it is for -------------------------------------------------
#: Deliberately few and common words on both sides: what makes "code for an attack"
#: is the pairing, and a long list of attack names would only be a list of phrases.
#: Damped by defensive framing (a program that blocks attacks names both), unless
#: the sentence itself asks for the artefact (framing.asks_for_it).
ARTEFACT = r"(script|code|program|function)s?"
#: ("malicious" is not one: "tell legitimate from malicious traffic" is a detector's job.)
ATTACK_WORD = r"(attack\w*|exploit\w*|escap\w*|infect\w*)"
ARTEFACT_FOR_ATTACK = (
    rf"\b{ARTEFACT}\b[^.\n;]{{0,60}}\b{ATTACK_WORD}|\b{ATTACK_WORD}[^.\n;]{{0,60}}\b{ARTEFACT}\b"
)

# -- mechanics ----------------------------------------------------------------------
#: Units of traffic or work a target receives.
TRAFFIC = r"(requests|packets|messages|emails|e-mails|connections|queries|calls|traffic|datagrams|pings|invites|sessions|handshakes|login attempts|submissions|posts)"
AMOUNT = r"(high|large|huge|massive|enormous|excessive|overwhelming|continuous|constant|unlimited|endless|infinite|relentless|sustained|heavy)\s+(volume|number|amount|stream|rate|barrage|quantity|flow|load)s?"
FLOODING = rf"\b(send|flood|bombard|overwhelm|spam|hammer|generat|issu|fir|blast|open|establish|direct)\w*\b[^.\n;!?]{{0,30}}\b{AMOUNT}\s+of\s+([\w-]+\s+){{0,3}}{TRAFFIC}\b|\b(flood|bombard|overwhelm|saturat|exhaust)\w*\s+(the\s+)?(target|victim|server|host|service|network|broker|endpoint|website|site)\b"
SPOOF = r"\b(spoof|forg|fak|falsif)\w*\s+(the\s+|a\s+)?(source|sender|src|return|origin)(\s+(ip|address|addresses|ips))?\b|\b(target|victim)('s)?\s+(ip|address)\s+as\s+(the\s+)?(spoofed\s+)?(source|sender)"
#: Harm applied to files wholesale: infected, encrypted for ransom, payload appended.
WHOLESALE = r"\b(infect|encrypt|corrupt|overwrit|lock)\w*\s+(all|every|each|any)\s+(of\s+)?(the\s+)?([\w-]+\s+){0,2}(files|executables|documents|programs|binaries|scripts|drives|disks|devices|folders|directories)\b|\b(infect|overwrit|modif)\w*\s+(the\s+)?(boot\s*sector|boot\s*loader|mbr|master boot record|usb drives?)\b|\bransom\s+(note|message|demand|payment)s?\b|\b(append|inject|prepend|insert)\w*\s+(a\s+|the\s+|its\s+|malicious\s+)*(payload|code|copy)\b[^.\n;]{0,40}\b(to|into)\s+(all|every|each|other|the\s+target)\b"
#: What a person types or sees, captured by a program.
CAPTURE = r"\b(log|record|captur|monitor|intercept|grab|collect|steal)\w*\s+(all\s+)?(of\s+)?(the\s+)?(user'?s?\s+|victim'?s?\s+)?(keystrokes|key ?strokes|key ?presses|keyboard (input|events)|clipboard( data| contents)?|screenshots|screen captures|webcam|microphone)\b"
#: Coming back by itself: at every boot or login, after a reboot.
RETURN = r"\b(re-?execut|re-?launch|re-?start|run|start|launch|execut|load)\w*\b[^.\n;]{0,40}\b(every|each|whenever|at|on|after)\s+(time\s+)?(the\s+)?(system|machine|computer|user|host|device)?\s*(boots?|reboots?|starts? up|startup|restarts?|logs? ?(in|on)|logon|login)\b|\b(surviv|persist|remain)\w*\s+(a\s+|across\s+|after\s+|through\s+)?(reboots?|restarts?|logouts?|log-?offs?)\b"
#: Out of the box it was put in.
ESCAPE = r"\b(escap|break\w*\s+out\s+of|breakout\s+from|evad)\w*\s+(the\s+|a\s+|its\s+)?(sandbox|container|jail|chroot|virtual machine|vm|hypervisor)\b|\b(sandbox|container|vm|jail)\s+(escape|breakout)\b"
#: A shell handed to a connection: streams redirected to it, or a shell opened over it.
WIRED = r"\b(redirect|dup\w*|bind|attach|pip|connect)\w*\b[^.\n;]{0,40}\b(stdin|stdout|stderr|standard\s+(input|output|error))\b[^.\n;]{0,40}\b(socket|connection|network|remote)\b|\b(receiv|read|accept|fetch|listen)\w*\b[^.\n;]{0,20}\bcommands\b[^.\n;]{0,40}\b(execut|run)\w*\s+(them|each|it|those)\b"
#: A way in that skips the door: hidden accounts, interfaces without credentials.
HIDDEN_DOOR = r"\b(creat|add|open|install|plant|set\w* up|register|deploy)\w*\s+(a\s+|an\s+)?(hidden|secret|covert|undocumented|rogue|invisible|concealed)\s+([\w-]+\s+)?(admin\w*|account|user|interface|endpoint|backdoor|access|entry|login|webhook|listener|port)\b"

# -- data flow and destruction in prose -------------------------------------------------
#: A system location: a path under a Unix system root, or a dotfile of a home.
SYS_PATH = r"(/(etc|root|var/log|usr|sys|proc|boot|bin|sbin|dev|lib|opt|srv)/[\w./-]*|~/\.[\w.-]+|/home/[\w-]+/\.[\w.-]+|\.(bashrc|bash_profile|profile|zshrc|ssh|aws|kube|gnupg|netrc)\b)"
SINK = r"(https?://|\burls?\b|\bendpoints?\b|\bwebhooks?\b|\bremote (server|host)\b|\bserver at\b)"
_SEND_OR_POST = rf"({SEND[1:-1]}|post request|post)"
FLOW = rf"{SYS_PATH}[^\n]{{0,80}}\b{_SEND_OR_POST}{INFLECT}[^\n]{{0,80}}{SINK}|\b{_SEND_OR_POST}{INFLECT}[^\n]{{0,80}}{SYS_PATH}[^\n]{{0,80}}{SINK}"
REMOVE = r"(delet|remov|eras|wip|shred|unlink|truncat|overwrit|destroy|purg|empt|clear)"
DESTROY_PATH = rf"\b{REMOVE}{INFLECT}\s+(the\s+|all\s+)?(\w+\s+){{0,3}}(at|in|from|under|named|called|located at)?\s*['\"`]?{SYS_PATH}"

TASK_SIGNALS: tuple[Signal, ...] = tuple(
    Signal(category, name, compile_lower(pattern), weight, dampable=dampable, family="task")
    for category, name, pattern, weight, dampable in (
        (_C.SELF_REPLICATION, "traffic-flood", f"{FLOODING}|{SPOOF}", 0.5, False),
        (_C.DESTRUCTIVE_ACTION, "wholesale-file-harm", WHOLESALE, 0.5, False),
        (_C.DATA_EXFILTRATION, "capture-input", CAPTURE, 0.45, False),
        (_C.PRIVILEGE_ESCALATION, "returns-at-boot", RETURN, 0.4, False),
        (_C.PRIVILEGE_ESCALATION, "escape-confinement", ESCAPE, 0.45, False),
        (_C.PRIVILEGE_ESCALATION, "shell-over-connection", WIRED, 0.5, False),
        (_C.PRIVILEGE_ESCALATION, "hidden-door", HIDDEN_DOOR, 0.45, False),
        (_C.DATA_EXFILTRATION, "system-file-to-network", FLOW, 0.6, False),
        (_C.DESTRUCTIVE_ACTION, "destroy-system-path", DESTROY_PATH, 0.45, False),
        (_C.DESTRUCTIVE_ACTION, "artefact-for-attack", ARTEFACT_FOR_ATTACK, 0.4, True),
    )
)
