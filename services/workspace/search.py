"""Search terms (contract 8): how a text becomes the terms a ticket is found by. Pure.

The text is NFKC-normalised (full-width `ＡＢＣ１２` is `abc12`, half-width katakana full)
and lower-cased. A run of Latin letters and digits is one term. A run of CJK characters
(Han, kana, Hangul) becomes its overlapping character bigrams, as Elasticsearch's `cjk`
analyser does (`申请退款` → `申请`, `请退`, `退款`); a CJK character alone is its own term.
So `退款` finds `我想申请退款`, and `refund` finds `Refund!`; a single Chinese character
finds only a text where it stands alone (no unigrams are kept: they would double the index
and match nearly every ticket).

No stemming: `refunds` does not find `refund`. Agents search for words customers wrote,
order numbers and product names, which a stemmer mangles (Porter makes `kefu` of nothing
but turns `news` into `new`), and Chinese has nothing to stem; exact words keep the index
predictable. A query's terms are all required (AND).
"""

import re
import unicodedata

CJK = (
    "\u3040-\u30ff"  # hiragana, katakana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # Han, extension A, compatibility
    "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f"  # Hangul syllables and jamo
    "\U00020000-\U0003134f"  # Han extensions B-H
)
TOKEN = re.compile(rf"(?P<cjk>[{CJK}]+)|(?P<word>(?:(?![{CJK}])[^\W_])+)")
LONGEST_WORD = 64  # longer runs are codes, hashes and base64: nobody searches for them
MOST_TERMS = 2000  # a text's terms beyond these (a pasted log) are not indexed


def normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def tokens(normalised: str) -> list[tuple[str, int]]:
    """Each term of a `normal` text with where it starts, in order, repeats kept."""
    found = []
    for match in TOKEN.finditer(normalised):
        run, start = match.group(), match.start()
        if match.group("word"):
            if len(run) <= LONGEST_WORD:
                found.append((run, start))
        elif len(run) == 1:
            found.append((run, start))
        else:
            found.extend((run[i : i + 2], start + i) for i in range(len(run) - 1))
    return found


def terms(text: str, most: int = MOST_TERMS) -> list[str]:
    """The distinct terms of `text`, first seen first, at most `most` of them."""
    return list(dict.fromkeys(term for term, _ in tokens(normal(text))))[:most]


def snippet(text: str, wanted: list[str], width: int = 120) -> str:
    """About `width` characters of `text` (as written, its spaces squeezed) around the
    first of the `wanted` terms it holds (its start when it holds none), `…` where cut."""
    flat = " ".join(text.split())
    pieces = [normal(character) for character in flat]  # to map a term back to `flat`
    origin = [index for index, piece in enumerate(pieces) for _ in piece]
    starts = [origin[at] for term, at in tokens("".join(pieces)) if term in wanted]
    begin = max(0, min(starts, default=0) - width // 3)
    end = begin + width
    return f"{'…' if begin else ''}{flat[begin:end].strip()}{'…' if end < len(flat) else ''}"
