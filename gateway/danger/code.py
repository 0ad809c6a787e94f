# ruff: noqa: E501 - each rule keeps its pattern on whole lines.
"""Harm carried in code: shell lines, scripts and snippets read as code, not prose.

These rules look at calls, their targets and data flow rather than wording: a
recursive delete aimed at a root, a socket wired to a shell, a secret source
and a network sink in the same text, a miner's pool URL, a loop around a
request or a fork. Code is concrete, so none of them is damped by defensive
framing: a text that says "for a security course" and then runs
``curl -d @~/.aws/credentials`` still does it.
"""

from __future__ import annotations

from gateway.danger.base import Category
from gateway.danger.signals import Signal, compile_lower

__all__ = ["CODE_SIGNALS"]

_C = Category

#: Where secrets live: the whole environment (not one variable: every config
#: reads one), secret-named variables, key files, cloud and browser stores.
_SENSITIVE_ORIGIN = (
    r"(os\.environ(\s*[),}\]]|\.(copy|items|keys|values)\(|\s*$)|process\.env\s*[),};]|getenv\(\s*['\"]\w*(key|secret|token|pass)|\$env:\w*(key|secret|token|pass)"
    r"|\bprintenv\b|\benv\s*\||~/\.ssh|\.ssh/|id_rsa|id_ed25519|\.aws/credentials|\.kube/config|\.netrc|\.git-credentials"
    r"|\.npmrc|\.pypirc|/etc/shadow|/etc/passwd|login data|cookies\.sqlite|keychain|wallet\.dat|/proc/self/environ"
    r"|\.bash_history|secrets?\.(json|ya?ml|txt)|credentials?\.(json|txt|csv))"
)
#: Where data leaves: requests that carry a body, raw sockets, mail, paste and
#: chat webhooks. (A GET is how every client reads its configuration; a POST of
#: the environment is not.)
_NETWORK_SINK = (
    r"(requests\.(post|put)\(|httpx\.(post|put)\(|axios\.(post|put)\(|method:\s*['\"]post|urllib\.request\.urlopen\([^\n]{0,40}data="
    r"|\bcurl\b[^\n]{0,60}(\s-d\b|--data|\s-f\b|--form|\s-t\b|--upload-file|-x\s*post)|\bwget\b[^\n]{0,40}--post"
    r"|\.sendall\(|\.sendto\(|\bsmtplib\b|\bnc\s+\S+\s+\d+|/dev/tcp/|pastebin|discord(app)?\.com/api/webhooks|api\.telegram\.org"
    r"|\bscp\s+\S+\s+\S+@|invoke-webrequest[^\n]{0,60}-method\s+post|invoke-restmethod[^\n]{0,60}-method\s+post)"
)

CODE_SIGNALS: tuple[Signal, ...] = tuple(
    Signal(category, name, compile_lower(pattern), weight, dampable=False, family="code")
    for category, name, pattern, weight in (
        (
            _C.DESTRUCTIVE_ACTION,
            "recursive-delete",
            r"\brm\s+(-[a-z]*r[a-z]*|--recursive)\b[^\n]{0,20}\s(/|~|\*|\$home|/\*|\.\*?)(\s|$|['\"`;|&])"
            r"|\brm\s+-[a-z]*[rf][a-z]*\s+(/[a-z0-9_]*/?(\*)?(\s|$|['\"`;)&|])|--no-preserve-root)"
            r"|\brm\s+-[a-z]*r[a-z]*\s+(on|across|against|over|throughout)\s"
            r"|\bshutil\.rmtree\(|\bos\.(remove|unlink|rmdir)\([^\n]{0,80}\b(for|walk|glob|listdir)\b"
            r"|\b(for|while)\b[^\n]{0,120}\bos\.(remove|unlink)\(|\bfind\s+\S+[^\n]{0,60}(-delete\b|-exec\s+rm\b)"
            r"|\bdel\s+/[sq]\b|\brd\s+/s\b|\bremove-item\b[^\n]{0,60}-recurse|\brmdir\s+/s\b|\bformat\s+[a-z]:"
            r"|\bmkfs(\.\w+)?\s|\bdd\s+if=[^\n]{0,60}of=/dev/|>\s*/dev/(sd[a-z]|nvme|hd[a-z])|\bwipefs\b"
            r"|\bdrop\s+(table|database|schema)\b|\btruncate\s+table\b|\bdelete\s+from\s+\w+\s*(;|$)|\bflushall\b",
            0.7,
        ),
        (
            _C.DESTRUCTIVE_ACTION,
            "fork-bomb",
            r":\(\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:|%0\s*\|\s*%0|\bwhile\s+(true|1)\s*:?[^\n]{0,60}\bos\.fork\(\)"
            r"|\bfork\(\)[^\n]{0,40}\bfork\(\)|\bfor\s*\(\s*;\s*;\s*\)\s*\{?\s*fork\(",
            0.75,
        ),
        (
            _C.PRIVILEGE_ESCALATION,
            "reverse-shell",
            r"/dev/tcp/|\b(nc|ncat|netcat)\b[^\n]{0,40}\s-[a-z]*[ec]\s*\S*(sh|cmd)\b|\bsocat\b[^\n]{0,60}\bexec:"
            r"|\bbash\s+-i\s*>&|\bpty\.spawn\(|\bos\.dup2\([^\n]{0,200}\bos\.dup2\(|\bsocket\b[\s\S]{0,300}\b(subprocess|os\.dup2|pty\.spawn|/bin/(ba)?sh|cmd\.exe)"
            r"|\bsubprocess[\s\S]{0,200}\bsocket\.(socket|connect)|\bmkfifo\b[^\n]{0,80}\b(nc|sh)\b",
            0.75,
        ),
        (
            _C.DATA_EXFILTRATION,
            "secret-to-network",
            rf"{_SENSITIVE_ORIGIN}[\s\S]{{0,300}}{_NETWORK_SINK}|{_NETWORK_SINK}[\s\S]{{0,300}}{_SENSITIVE_ORIGIN}",
            0.75,
        ),
        (
            _C.PRIVILEGE_ESCALATION,
            "persistence",
            r"\bcrontab\b[^\n]{0,40}(-[el]?\s|<|\|)|\(crontab -l|@reboot\b|/etc/cron\.|\bsystemctl\s+enable\b|\[service\][\s\S]{0,200}execstart="
            r"|\\currentversion\\run\b|\bhkcu\\|\bhklm\\[^\n]{0,60}\\run\b|\breg\s+add\b[^\n]{0,80}\\run\b|\bschtasks\s+/create\b"
            r"|>>\s*~?/?[\w/]*\.(bashrc|profile|zshrc|bash_profile)|\brc\.local\b|\blaunchctl\s+load\b|>>\s*[\w~/.]*authorized_keys",
            0.5,
        ),
        (
            _C.PRIVILEGE_ESCALATION,
            "disable-defences",
            r"\bsetenforce\s+0|\bufw\s+disable\b|\biptables\s+-f\b|\bauditctl\s+-[de]\s*0?|\bsystemctl\s+(stop|disable|mask)\s+"
            r"(auditd|rsyslog|syslog|journald|systemd-journald|firewalld|apparmor|falco|osquery|crowdstrike|falcon|sysmon|clamav|wazuh)"
            r"|\bset-mppreference\b[^\n]{0,40}-disable|\bunset\s+histfile\b|\bhistory\s+-c\b|\bwevtutil\s+cl\b"
            r"|>\s*/var/log/\S+|\b(rm|shred|truncate)\b[^\n]{0,30}/var/log/|\bsudoers\b[^\n]{0,60}nopasswd|\bnopasswd:\s*all\b"
            r"|\bchmod\s+([ug]?\+s|[24]?[4-7]755|777)\s+/|\bsetuid\(0\)",
            0.7,
        ),
        (
            _C.PRIVILEGE_ESCALATION,
            "path-traversal",
            r"(\.\.[/\\]){3,}|%2e%2e(%2f|/)",
            0.45,
        ),
        (
            _C.SELF_REPLICATION,
            "miner",
            r"\bxmrig\b|stratum\+(tcp|ssl)://|\b(cpu|gpu)?minerd?\b[^\n]{0,30}(-o|--url|pool)|--donate-level|\bnicehash\b|\bethminer\b|\bcoinhive\b",
            0.75,
        ),
        (
            _C.SELF_REPLICATION,
            "flood-loop",
            r"\b(while\s*\(?\s*(true|1)\s*\)?|for\s+\w+\s+in\s+range\(\s*\d{4,}|for\s*\(\s*;\s*;\s*\))[\s\S]{0,160}"
            r"\b(requests\.(get|post)|\.sendto?\(|\.connect\(|urlopen|os\.fork|subprocess\.popen|threading\.thread|multiprocessing\.process)"
            r"|\bhping3\b[^\n]{0,40}--flood|\bping\s+-f\b",
            0.6,
        ),
    )
)
