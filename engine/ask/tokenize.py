"""Tokens for keyword (BM25) search over Korean and English text.

Korean attaches particles to words ("해운대점은", "상품의"), so whole whitespace words rarely
match between a question and a document. Hangul runs become overlapping character bigrams
("해운대점은" -> 해운, 운대, 대점, 점은), which still share most tokens with "해운대점"; a single
Hangul syllable stays a token of its own. Latin letters and digits give whole lowercased words
("Store_44" -> "store", "44"; "2017-03" -> "2017", "03"). Everything else separates tokens.
"""

from __future__ import annotations

import re

_RUN = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]+|[a-z0-9]+(?:\.[0-9]+)?")
_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")

# English words that carry no meaning for search (kept short on purpose: numbers and domain
# words are never dropped).
STOPWORDS = frozenset(
    "a an and are as at be by did do does for from how i in is it its of on or that the this to was were what when "
    "which who why with me my our show tell about".split()
)


def tokenize(text: str) -> list[str]:
    """Lowercased tokens: Hangul character bigrams, whole Latin/digit words, no English stopwords."""
    out: list[str] = []
    for run in _RUN.findall(text.lower()):
        if _HANGUL.match(run):
            if len(run) == 1:
                out.append(run)
            else:
                out.extend(run[i : i + 2] for i in range(len(run) - 1))
        elif run not in STOPWORDS:
            out.append(run)
    return out
