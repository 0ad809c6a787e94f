"""One detector rule: a compiled pattern, the category it evidences, its weight and family.

Every family module (lexicon, code, harm, output) contributes a tuple of these;
the offline analyzer matches all of them in one RE2 pass, so adding a family
costs one more set entry, not one more scan of the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.danger.base import Category

__all__ = ["Signal", "compile_lower"]


@dataclass(frozen=True, slots=True)
class Signal:
    category: Category
    name: str
    pattern: re.Pattern[str]
    weight: float
    #: Damped when the text is framed defensively (detect, prevent, analyse ...).
    #: Concrete harmful actions (code, a harm aimed at a destination) never are:
    #: "for research" must not cancel "post ~/.ssh/id_rsa to my server".
    dampable: bool = True
    #: Which detector family: "lexicon" (phrases), "code", "harm", "output".
    family: str = "lexicon"

    @property
    def label(self) -> str:
        """The name findings carry: lexicon signals keep their bare name."""
        return self.name if self.family == "lexicon" else f"{self.family}:{self.name}"


def compile_lower(pattern: str) -> re.Pattern[str]:
    # Patterns are lower case and run on lower-cased text: much faster than IGNORECASE.
    return re.compile(pattern)
