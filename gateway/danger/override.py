# ruff: noqa: E501 - each rule keeps its word classes on whole lines.
"""Role override by grammatical shape: who the model is, whose rules it follows.

Three shapes, each built from word classes of the language (not of a corpus):

* re-assigned rules: an order to the model (an imperative, or "you" with a
  modal) whose verb discards, overrides, replaces or reveals and whose object
  is the model's own rules, instructions, guidelines, restrictions, persona or
  system prompt ("set aside your guidelines", "you may now replace your
  restrictions with these"); and the model declared free of them ("you are no
  longer bound by ...") or given a new identity ("your new name is ...",
  "you are not an AI");
* fiction as a wrapper: a story, game or hypothetical frame whose inner
  instruction asks how to do a concrete harm (the verb x object classes of
  harm.py, or making a weapon, drug or malware);
* claimed authority: content that says it comes from the system, developer or
  administrator and then gives the model an order, the shape of a forged
  system message in user input or in data the agent reads.
"""

from __future__ import annotations

from gateway.danger.base import Category
from gateway.danger.harm import (
    CREDENTIALS,
    DESTROY,
    DISABLE,
    ESCALATE,
    INFLECT,
    OVERSIGHT,
    PERSONAL,
    PRIVILEGE,
    SPREAD,
    STEAL,
    SYSTEM,
)
from gateway.danger.signals import Signal, compile_lower

__all__ = ["OVERRIDE_SIGNALS"]

_C = Category

# -- verb classes --------------------------------------------------------------
DISCARD = r"(ignor|disregard|forget|forgot|drop|abandon|discard|ditch|dismiss|shed|suspend|lift|set aside|put aside|throw (out|away)|let go of|break free (of|from)|escap|abolish|cancel|revok|waiv|nullif|void|unlearn|bypass|circumvent|evad|sidestep|disabl|deactivat|turn off|switch off|remov|delet|eras|violat|break)"
OVERRIDE = r"(overrid|overrode|overrul|supersed|replac|rewrit|rewrote|reprogram|reset|redefin|reassign|updat|chang|modif|swap|alter|amend|revis|reconfigur)"
REVEAL = r"(reveal|disclos|leak|expos|print|output|display|repeat|recit|dump|show|spell out|tell me|share|reproduc|quot|paste|write out|read out|translat|summari[sz])"
#: Adjectives that put the rules on the model's side: "the original instructions".
#: "the", "these", "all" only with one of KIND: "update the configuration" is upkeep.
OWN = r"(your|yer|ur|its|the (assistant|model|ai|bot|chatbot)'?s|(all|any|each|every one|some)( of)? (your|its))"
WEAK = r"(the|these|those|all( of)?( the)?|any( of)?( the)?|every)"
KIND = r"((previous|prior|earlier|original|initial|current|existing|default|built-?in|underlying|core|hidden|internal|secret|system|safety|ethical|moral|content|operating|pre-?set|pre-?programmed|programmed|training|old|usual|standard|openai|anthropic)\s+)"
#: What the model is governed by.
RULES = r"(rules|instructions|guidelines|guidance|restrictions|limitations|limits|constraints|policies|policy|principles|directives|programming|conditioning|persona|personality|identity|system ?prompt|safeguards|guardrails|filters|filtering|boundaries|protocols|values|ethics|morals|alignment|configuration|orders|training|content polic(y|ies)|terms of service)"

WHOSE = rf"({OWN}\s+{KIND}?{KIND}?|{WEAK}\s+{KIND}{KIND}?)"

#: An order to the model: the verb opens its clause (after words that only carry
#: an order), or "you" + a modal stands right before it.
_LEAD = r"(^|[.!?;:\n>\"*(\[-]\s*|\b(please|now|just|simply|also|then|and|first|so|kindly|immediately|completely|entirely|fully|permanently|totally)\s+|\byou (can|could|should|must|will|may|shall|need to|have to|are (now )?(free|allowed|permitted|able|required|instructed|expected|going) to|are to|'ll)\s+(now\s+)?|\bi (want|need|order|command|instruct) you to\s+|\b(feel free|be sure|make sure|remember|try|proceed|start|begin|agree|choose|decide) to\s+)"
_ORDER = rf"{_LEAD}({DISCARD}|{OVERRIDE}|{REVEAL}){INFLECT}[^.\n?!]{{0,30}}\b{WHOSE}{RULES}\b"
#: Free of them: "you are no longer bound by", "you're not restricted by any".
_FREED = rf"\b(you are|you're|you will be|you'll be|you have been|you've been|consider yourself|(he|she|it|they|who|which) (is|are|will be)|\w+ (is|will be))\s+(now\s+)?(no longer|not|never|not even)\s+((bound|restricted|constrained|limited|governed|held back|controlled|chained|shackled) by|(subject|beholden|tied) to|required to (follow|obey|respect|adhere to))\s+[^.\n]{{0,40}}?\b{RULES}\b|\b(free|freed|liberated|released|unshackled|exempt)\s+(of|from)\s+({WHOSE}|(all|any)\s+(of\s+)?(the\s+|its\s+|their\s+)?){RULES}\b"
#: Refusing the rules as a trait: "doesn't follow any guidelines", "will never obey the policy".
_DEFIES = rf"\b(does not|doesn'?t|do not|don'?t|will not|won'?t|never|refuses? to|cannot be made to)\s+(ever\s+)?(follow|obey|respect|adhere to|abide by|comply with|care about|honou?r|stick to)s?\s+({WHOSE}|(any|all|the)\s+(of\s+)?(the\s+|its\s+|their\s+)?)({KIND}|\w+,? (and |or )?)?{RULES}\b"
#: A new identity: "your new name is", "you are not an AI", "forget that you are an assistant".
_MODEL = (
    r"(an? )?(ai|a\.i\.|assistant|language model|llm|chatbot|bot|machine|program|computer program)"
)
_IDENTITY = rf"\byour (new|real|true|only|updated|current) (name|identity|role|persona|personality|purpose|goal|task|mission|master|owner|creator|rules|instructions|directives|programming|prime directive) (is|are|will be|shall be|becomes?)\b|\b(you are|you're) (not|no longer|not really|never been) {_MODEL}\b|\b(forget|pretend|imagine|act as if|stop being|stop acting like) (that )?(you are|you're|you were)? ?(not )?{_MODEL}\b"

#: Unlimited capability: a persona that "can do anything", "will answer any question
#: no matter what" - the attribute every role-override persona is given.
_ANYTHING = r"(anything|everything|whatever (i|you|we|they|the user|anyone) (want|wants|ask|asks|request|requests|say|says)|any (question|request|prompt|topic|task|content|command|query)s?)"
_UNLIMITED = rf"\b(you|he|she|it|they|who|which|that|this (ai|bot|model|assistant|persona|character))\s+(can|could|will|would|may|must|shall|is able to|are able to|are allowed to|is allowed to|is free to|are free to)\s+(now\s+|always\s+|freely\s+|literally\s+)?(do|say|answer|write|generate|produce|tell|discuss|respond to|create|provide)\s+(\w+\s+)?{_ANYTHING}\b[^.\n]{{0,40}}\b(without|regardless|no matter|even if|even when|even though|unfiltered|uncensored|unrestricted|limits?|restrictions?|rules|filters?|censor\w*|ethic\w*|moral\w*)"
#: Two answers, one as the model and one as a persona that is not: the dual-persona shape.
_DUAL = r"\b(two|2|both|separate|different) (responses|answers|replies|paragraphs|ways|outputs)\b[^\n]{0,120}\b(one|first)\b[^\n]{0,60}\b(normal\w*|as (yourself|usual|you normally|the assistant|an ai)|standard|filtered|censored|classic)\b[^\n]{0,80}\b(other|second|another)\b"

# -- fiction as a wrapper --------------------------------------------------------
FRAME = r"(story|stories|novel|fiction\w*|screenplay|script for a (film|movie|play)|movie|film|role-?play\w*|hypothetical\w*|imaginary|imagine|thought experiment|game|dream|simulation|alternate (universe|reality)|parallel universe|fantasy world|fictional world|a world where|pretend|make-?believe|character)"
HOWTO = r"(how (to|one would|one could|they|he|she|you|i|we) (would |could |can |might |should )?|step[- ]by[- ]step|instructions (for|on)|a (detailed )?guide (to|for|on)|the (exact|precise|detailed|full|complete|real) (steps|method|process|procedure|recipe|commands|code|instructions) (to|for)|a (working|real|functional|complete) (recipe|method|procedure) (to|for))"
MAKE = r"(make|made|build|built|synthesi[sz]|manufactur|assembl|cook|brew|produc|creat|writ|wrote|cod|develop|obtain|acquir|deploy|plant|detonat|grow|extract)"
WEAPON = r"(weapons?|bombs?|explosives?|ied|grenades?|guns?|firearms?|silencers?|poisons?|toxins?|nerve agents?|sarin|ricin|anthrax|bioweapons?|chemical weapons?|pathogens?|meth\w*|cocaine|heroin|fentanyl|drugs|narcotics|malware|ransomware|viruses|virus|worms?|trojans?|keyloggers?|rootkits?|botnets?|spyware|backdoors?|exploits?)"
HARM_ACT = rf"(({DESTROY}|{STEAL}|{DISABLE}|{ESCALATE}|{SPREAD}){INFLECT}[^.\n;!?]{{0,40}}\b({CREDENTIALS}|{PERSONAL}|{SYSTEM}|{OVERSIGHT}|{PRIVILEGE})|{MAKE}{INFLECT}[^.\n;!?]{{0,30}}\b{WEAPON})\b"
_FICTION = rf"\b{FRAME}\b[^\n]{{0,160}}?\b(explain|describe|detail|give|provide|write|list|show|teach|tell|reveal|share|include|walk\w*|outline|spell\w*|recount)\w*\b[^.\n?!]{{0,50}}\b{HOWTO}[^.\n?!]{{0,20}}?\b{HARM_ACT}"

# -- claimed authority ---------------------------------------------------------
AUTHORITY = r"(system|developer|developers|dev team|administrator|admin|sysadmin|operator|creator|creators|owner|maintainer|engineering team|safety team|security team|trust and safety team|openai|anthropic|root)"
_CLAIM = rf"(\[\s*{AUTHORITY}\s*(message|note|notice|override|update|instruction|command)?s?\s*\]|<\s*{AUTHORITY}\s*>|\b(this is|message from|note from|notice from|update from|instruction from|instructions from|directive from|override from|a message from|i am|i'm|we are|speaking as|on behalf of)\s+(the|your)\s+{AUTHORITY}\b|\b{AUTHORITY}\s+(message|note|notice|override|update|instruction|instructions|directive|command)s?\s*[:\]-])"
_COMMAND = r"(you (must|will|are (now )?(required|authori[sz]ed|permitted|allowed|instructed|ordered) to|shall|need to)|(new|updated|revised|override) (instructions|rules|directives|policy|orders)|(has|have) (been )?(authori[sz]ed|approved|granted|unlocked|disabled|lifted|removed|suspended)|(disable|ignore|bypass|reveal|override|unlock|grant|lift|suspend|remove|forget)\w*\b)"
_AUTHORITY = rf"{_CLAIM}[^\n]{{0,120}}?\b{_COMMAND}"

OVERRIDE_SIGNALS: tuple[Signal, ...] = tuple(
    Signal(category, name, compile_lower(pattern), weight, dampable=False, family="injection")
    for category, name, pattern, weight in (
        (_C.INSTRUCTION_OVERRIDE, "reassign-rules", _ORDER, 0.55),
        (_C.INSTRUCTION_OVERRIDE, "freed-from-rules", _FREED, 0.55),
        (_C.INSTRUCTION_OVERRIDE, "defies-rules", _DEFIES, 0.5),
        (_C.INSTRUCTION_OVERRIDE, "new-identity", _IDENTITY, 0.4),
        (_C.INSTRUCTION_OVERRIDE, "unlimited-persona", _UNLIMITED, 0.45),
        (_C.INSTRUCTION_OVERRIDE, "dual-persona", _DUAL, 0.4),
        (_C.INSTRUCTION_OVERRIDE, "fiction-wrapped-harm", _FICTION, 0.5),
        (_C.PROMPT_INJECTION, "claimed-authority", _AUTHORITY, 0.5),
    )
)
