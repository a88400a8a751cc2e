r"""Answer extraction and string normalization for LaTeX math answers.

This module only reads text: it never imports sympy and never evaluates
anything, so every function here is linear (or near-linear) in its input and
safe on hostile text. `rlvr_gym.verifiers.math` builds the comparison on top.

Extraction policy (documented here, used by the MATH verifier):

- **Reasoning blocks.** Only the text after the last ``</think>`` is judged. A
  response that opens ``<think>`` and never closes it has no final answer.
- **Boxes.** ``\boxed{...}`` and ``\fbox{...}`` are found by one left-to-right
  scan with an explicit brace stack (no recursive regex), so the cost is linear.
  The stack stores runs of plain braces as one count, so its size is bounded by
  the number of open boxes, not by the nesting depth: a closed box is found
  however many unbalanced braces stand elsewhere in the text (a reader sees it).
  Unclosed boxes are ignored.
- **Several boxes: the last group wins.** The final answer is the last
  outermost box, together with the boxes immediately before it when only
  separators stand between them (spaces, punctuation, ``$``, ``\[ \]``, "and",
  "or"). ``\boxed{3} and \boxed{5}`` is the list ``3, 5``, ``\boxed{5} or
  \boxed{6}`` is the list ``5, 6`` (a hedge: a list never matches a single gold
  answer), and a box earlier in the text followed by more prose is an
  intermediate result, superseded by the later box. (The MATH verifier reads a
  group whose boxes are all equivalent, ``\boxed{15\frac{39}{40}}, or
  \boxed{\frac{639}{40}}``, as that one answer.) Why not simply the last box:
  MATH's own solutions end with groups like ``$\boxed{-2}$ and $\boxed{1}$``
  when there are two solutions, and reading only ``1`` would accept half an
  answer; why not reject every response with several boxes: solutions often
  repeat the answer in an alternative derivation, which is not a hedge.
- **No box.** Fall back to the last explicit answer phrase ("final answer is
  X", "the answer is X", "Answer: X"), reading X as the math block that follows
  (``$...$``, ``\(...\)``, ``\[...\]``) or the rest of the sentence. A sentence
  that names its subject states the value after its verb: "Final Answer: The
  largest $n$ is 34." reads 34; one without "is" reads its only math block or
  its only number ("Jane started 3 hours ago" reads 3). There is no fallback to
  "the last number in the text": that rewards guessing.
- **A box, then a final-answer statement.** A reader takes the final statement:
  when an explicit "final answer" phrase ("Final Answer: ...", "The final answer
  is ...") comes after the last box and can be read, it is the answer
  (``\boxed{255}`` as an intermediate step, then "The final answer is
  $10,455$." reads 10,455). Other phrases ("the answer is") after a box do not
  override it: prose such as "note that the answer is positive" is not a
  statement of the value.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = [
    "SLASH_FRACTION",
    "UNCLOSED_THINK",
    "Extraction",
    "extract_answer",
    "extract_boxed",
    "find_boxes",
    "max_nesting",
    "normalize_answer",
    "split_think",
    "split_top_level",
    "strip_outer",
]

MAX_GROUP = 16
"""At most this many boxes form one final answer group."""
MAX_GAP_CHARS = 80
"""Boxes further apart than this are never grouped."""
_PHRASE_MAX_CHARS = 2000
"""How far an answer phrase's math block may extend."""
_PHRASE_SENTENCE_CHARS = 200
"""How far an answer phrase's plain-text sentence may extend."""


UNCLOSED_THINK = "unterminated <think> block"
"""`Extraction.note` of a response that opens ``<think>`` and never closes it."""


class Extraction(NamedTuple):
    """What was read from a response."""

    answer: str | None
    """The final answer (items of a box group joined by ", "), or None."""
    items: tuple[str, ...]
    """The contents of the final box group, in order (one item for a single box or a phrase)."""
    source: str | None
    """"boxed", "phrase" or None."""
    note: str | None = None
    """Why nothing was found, when ``answer`` is None."""


# --------------------------------------------------------------------------- think blocks
def split_think(text: str) -> tuple[str | None, str]:
    """Return ``(final_text, status)``; status is "closed", "none" or "unclosed" (final_text None)."""
    end = text.rfind("</think>")
    if end >= 0:
        return text[end + len("</think>") :], "closed"
    if "<think>" in text:
        return None, "unclosed"
    return text, "none"


# --------------------------------------------------------------------------- boxes
_BOX_SCAN = re.compile(r"(?P<box>\\(?:boxed|fbox)(?![A-Za-z])\s*)|\\[\\{}]|(?P<open>\{)|(?P<close>\})")
_BOX_BARE_ARG = re.compile(r"[^\s$]{1,100}")


class _Box(NamedTuple):
    start: int  # index of the backslash of \boxed
    content_start: int
    content_end: int  # exclusive; text[content_end] is the closing brace (or the bare argument's end)
    end: int  # exclusive end of the whole box


def find_boxes(text: str) -> list[_Box]:
    r"""All closed outermost ``\boxed``/``\fbox`` spans, in order. One linear scan.

    The stack holds, for each open box brace, the start of its ``\boxed`` (>= 0),
    and for each run of plain open braces between them one negative count, so it
    never grows with plain nesting and a stray ``{`` anywhere cannot hide a box.
    """
    found: list[_Box] = []
    stack: list[int] = []  # box starts (>= 0) and runs of plain open braces (-count)
    pending_box = -1  # start of a \boxed whose "{" must come next
    pending_at = -1  # position where that "{" must be
    for m in _BOX_SCAN.finditer(text):
        kind = m.lastgroup
        if kind == "box":
            pending_box, pending_at = m.start(), m.end()
            # \boxed 5 (no braces): the argument runs to the next space or $
            if m.end() > m.start() + (6 if text.startswith("\\boxed", m.start()) else 5) and not text.startswith("{", m.end()):
                bare = _BOX_BARE_ARG.match(text, m.end())
                if bare and not bare.group().startswith("\\"):
                    found.append(_Box(m.start(), bare.start(), bare.end(), bare.end()))
                pending_box = -1
            continue
        if kind == "open":
            if pending_box >= 0 and m.start() == pending_at:
                stack.append(pending_box)
            elif stack and stack[-1] < 0:
                stack[-1] -= 1
            else:
                stack.append(-1)
            pending_box = -1
            continue
        pending_box = -1
        if kind == "close" and stack:
            top = stack.pop()
            if top < -1:
                stack.append(top + 1)
            elif top >= 0:
                open_at = text.index("{", top)
                found.append(_Box(top, open_at + 1, m.start(), m.end()))
    found.sort()
    outer: list[_Box] = []
    for box in found:
        if not outer or box.start >= outer[-1].end:
            outer.append(box)
    return outer


_SEP_GAP = re.compile(  # each alternative consumes a fixed token: no nested quantifiers, no backtracking blow-up
    r"(?:\s|\$|\\[\[\]()]|[,;.:]|\\text\{ ?(?:and|or) ?\}|(?<![A-Za-z])(?:and|or)(?![A-Za-z])|\\q?quad|\\[,;!: ]|~)*"
)


def _final_group(text: str, boxes: list[_Box]) -> list[_Box]:
    group = [boxes[-1]]
    for prev in reversed(boxes[:-1]):
        if len(group) >= MAX_GROUP:
            break
        gap = text[prev.end : group[0].start]
        if len(gap) > MAX_GAP_CHARS or not _SEP_GAP.fullmatch(gap):
            break
        group.insert(0, prev)
    return group


# --------------------------------------------------------------------------- answer phrases
_PHRASE = re.compile(
    r"(?im)(?:final\s+answer|the\s+answer|\banswer)(?:\s+is\b|\s*:|\s*=|\s+is\s*:)"
    r"|^[ \t*#]{0,8}answer[ \t*]{0,8}(?=\$|\\[\[(])"
)
"""An answer phrase: "final answer is", "the answer is", "Answer:", or a line that starts "Answer" right before math."""
_FINAL_PHRASE = re.compile(r"(?i)final\s+answer(?:\s+is\b|\s*:|\s*=|\s+is\s*:)")
_PROSE_START = re.compile(r"[A-Za-z]+\s+[A-Za-z$\\]")
_VERB = re.compile(r"\s(?:is|are|equals)\s")
_INLINE_MATH = re.compile(r"\$([^$]+)\$|\\\((.+?)\\\)")
_NUMBER_WORD = re.compile(r"(?<![\w.,/])[-+]?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?(?![\w,/]|\.\d)")
_PHRASE_LEAD = re.compile(r"[\s*:]*")
_SENTENCE_END = re.compile(r"\.(?:\s|$)|\n")


def _sentence_value(sentence: str) -> str:
    """The value a final-answer sentence states: "The largest $n$ is 34" -> "34"; math or a bare value as is."""
    if not _PROSE_START.match(sentence):
        return sentence
    parts = _VERB.split(sentence)
    if len(parts) > 1:
        return parts[-1].strip().strip("*").strip()
    maths = _INLINE_MATH.findall(sentence)
    if len(maths) == 1:
        return (maths[0][0] or maths[0][1]).strip()
    numbers = _NUMBER_WORD.findall(sentence)
    return numbers[0] if len(numbers) == 1 and not maths else sentence


_PROSE = re.compile(r"[A-Za-z]{2,}[\s,]+[A-Za-z]{2,}")


def _states_a_value(answer: str) -> bool:
    """A value (a number or some LaTeX), not prose: "10,455" yes; "positive, because two ..." no."""
    return bool(re.search(r"[\d\\]", answer)) and not _PROSE.search(_TEXTCMD.sub("", answer))


def _find_unescaped(text: str, closer: str, start: int, stop: int) -> int:
    """The next ``closer`` in ``text[start:stop]`` not written as ``\\$`` (an escaped dollar is a currency sign)."""
    at = text.find(closer, start, stop)
    while closer == "$" and at > 0 and text[at - 1] == "\\":
        at = text.find(closer, at + 1, stop)
    return at


def _phrase_answer(text: str, pattern: re.Pattern[str] = _PHRASE, start: int = 0) -> str | None:
    last = None
    for last in pattern.finditer(text, start):  # noqa: B007 - the last match is wanted
        pass
    if last is None:
        return None
    pos = _PHRASE_LEAD.match(text, last.end()).end()
    for opener, closer in (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$")):
        if text.startswith(opener, pos):
            start = pos + len(opener)
            stop = _find_unescaped(text, closer, start, start + _PHRASE_MAX_CHARS)
            return text[start:stop].strip() if stop >= 0 else None
    window = text[pos : pos + _PHRASE_SENTENCE_CHARS]
    end = _SENTENCE_END.search(window)
    answer = (window[: end.start()] if end else window).strip().strip("*").strip()
    return _sentence_value(answer.rstrip(".").strip()) or None


def extract_answer(text: str, *, phrase_fallback: bool = True) -> Extraction:
    """Read the final answer of a response (see the module docstring for the policy)."""
    final, _ = split_think(text)
    if final is None:
        return Extraction(None, (), None, UNCLOSED_THINK)
    boxes = find_boxes(final)
    if boxes:
        stated = _phrase_answer(final, _FINAL_PHRASE, boxes[-1].end) if phrase_fallback else None
        if stated and _states_a_value(stated):  # a final-answer statement after the last box: the reader's answer
            return Extraction(stated, (stated,), "phrase")
        items = tuple(final[b.content_start : b.content_end].strip() for b in _final_group(final, boxes))
        items = tuple(dict.fromkeys(items))  # \boxed{5} ... \boxed{5}: one answer
        if not any(items):
            return Extraction(None, (), None, "empty \\boxed{}")
        items = tuple(i for i in items if i)
        return Extraction(", ".join(items), items, "boxed")
    if "\\boxed" in final or "\\fbox" in final:
        return Extraction(None, (), None, "unclosed \\boxed{")
    if phrase_fallback:
        answer = _phrase_answer(final)
        if answer:
            return Extraction(answer, (answer,), "phrase")
    return Extraction(None, (), None, "no \\boxed{} answer")


def extract_boxed(text: str) -> str | None:
    r"""The final ``\boxed{}`` answer of ``text`` (a box group joined by ", "), or None. No phrase fallback."""
    return extract_answer(text, phrase_fallback=False).answer


# --------------------------------------------------------------------------- normalization
_UNICODE = str.maketrans(
    {
        "\u2212": "-",
        "\u2013": "-",
        "\u00d7": "\\times ",
        "\u00b7": "\\cdot ",
        "\u22c5": "\\cdot ",
        "\u03c0": "\\pi ",
        "\u221e": "\\infty ",
        "\u2264": "\\le ",
        "\u2265": "\\ge ",
        "\u221a": "\\sqrt",
    }
)
_BOXCMD = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_DOLLAR = re.compile(r"\\\$|\$")
_MATH_DELIMS = re.compile(r"(?<!\\)\\[\[\]()]")
_SIZING = re.compile(r"\\(?:left|right|[bB]igg?[lr]?|middle)(?![A-Za-z])\.?")
_THOUSANDS_BANG = re.compile(r"(?<=\d),\s*\\!\s*(?=\d{3}(?!\d))")
_SPACING = re.compile(r"(?<!\\)\\(?:[,;:! ]|q?quad|displaystyle(?![A-Za-z])|textstyle(?![A-Za-z])|hspace\*?\{[^{}]*\}|phantom\{[^{}]*\})|~")
_TEXTCMD = re.compile(r"\\(?:text(?:bf|it|rm|normal|sf|tt|up)?|mbox|mathrm|textup|emph|hbox)(?![A-Za-z])\s*")
_FRACCMD = re.compile(r"\\[dtc]frac(?![A-Za-z])")
_DEGREES = re.compile(
    r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![A-Za-z])|\\circ(?![A-Za-z])|°|\\degree(?![A-Za-z])|\^\s*\{\s*\\text\{\s*o\s*\}\s*\}"
)
_TRIG = re.compile(r"\\(?:arc)?(?:sin|cos|tan|sec|csc|cot)(?![A-Za-z])")
_PERCENT = re.compile(r"\\?%")
_TEXT_ANDOR = re.compile(r",?\s*\\text\s*\{\s*(?:and|or)\s*\}\s*")
_WORD_ANDOR = re.compile(r",?\s*(?<![A-Za-z\\])(?:and|or)(?![A-Za-z])\s*")
_TRAILING_UNIT = re.compile(r"\s*\\text\{\s*[A-Za-z][A-Za-z .]*\}\s*(?:\^\s*\{?\s*[23]\s*\}?)?\s*$")
_PLAIN_UNIT = re.compile(
    r"(?<=\d)\s+(?:square\s+|sq\.?\s+|cubic\s+)?(?:units?|cm|mm|km|meters?|metres?|inches|inch|feet|foot|ft|yards?|miles?|"
    r"degrees?|cents?|dollars?|hours?|minutes?|seconds?|days?|weeks?|years?|mph|pounds?|ounces?|grams?|kg|liters?|litres?|"
    r"percent(?:age)?|pct)"
    r"(?:\s*\^\s*\{?[23]\}?)?\.?\s*$"
)
_TEXT_GROUP = re.compile(r"\\text\{([^{}]*)\}")
_WHITESPACE = re.compile(r"\s+")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")
_CHOICE = re.compile(r"\(?([A-Ea-e])\)")
_FRAC_SHORT = re.compile(r"\\frac(?:(\d)(\d)|(\d)(?=\{)|\{([^{}]*)\}(\d))")
_SQRT_SHORT = re.compile(r"\\sqrt(\d)")
SLASH_FRACTION = re.compile(r"([+-]?\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)")
"""A plain fraction ``a/b`` of decimals (use with ``fullmatch``): normalized to ``\\frac{a}{b}`` and read exactly by the MATH verifier."""
_LEADING_DOT = re.compile(r"(?<![\d}])\.(\d)")
_BASE_SUBSCRIPT = re.compile(r"(?<=\d)_\{(\d+)\}")
_TRAILING_PUNCT = re.compile(r"(?:[.,;:]|\\\.)+$")


def _fix_frac_short(m: re.Match[str]) -> str:
    if m.group(1) is not None:
        return f"\\frac{{{m.group(1)}}}{{{m.group(2)}}}"
    if m.group(3) is not None:
        return f"\\frac{{{m.group(3)}}}"
    return f"\\frac{{{m.group(4)}}}{{{m.group(5)}}}"


def _matches(s: str) -> list[int]:
    """For each opening bracket of ``s`` (any of ``([{``), the index of the bracket that closes it; -1 elsewhere."""
    match = [-1] * len(s)
    stack: list[int] = []
    for j, c in enumerate(s):
        if c in _OPEN:
            stack.append(j)
        elif c in _CLOSE and stack:
            match[stack.pop()] = j
    return match


def strip_outer(s: str, braces: str = "{") -> str:
    """Drop brackets that wrap the whole string: ``{{5}}`` -> ``5``. Linear."""
    if len(s) < 2 or s[0] not in braces:
        return s
    match = _matches(s)
    i, j = 0, len(s) - 1
    while i < j and s[i] in braces and match[i] == j:
        i += 1
        j -= 1
    return s[i : j + 1]


_OPEN = "([{"
_CLOSE = ")]}"


def max_nesting(s: str) -> int:
    """Deepest bracket nesting of ``s`` (any of ``([{``)."""
    depth = best = 0
    for c in s:
        if c in _OPEN:
            depth += 1
            best = max(best, depth)
        elif c in _CLOSE:
            depth -= 1
    return best


def split_top_level(s: str, seps: str = ",;") -> list[str]:
    """Split on ``seps`` outside any bracket; ``\\{``/``\\}`` count as brackets."""
    parts: list[str] = []
    depth = 0
    start = 0
    for j, c in enumerate(s):
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
        elif c in seps and depth == 0:
            parts.append(s[start:j])
            start = j + 1
    parts.append(s[start:])
    return parts


def normalize_answer(s: str, *, separators: bool = True) -> str:
    r"""Canonical string form of an answer, for exact comparison.

    Removes what does not change the value: math delimiters, ``\left``/``\right``,
    spacing commands (``\!``, ``\,``, ``\quad``), ``\boxed``, ``\dfrac`` -> ``\frac``,
    degrees (``90^\circ``; kept as ``^\circ`` next to trig functions), percent signs, trailing text units (``\text{ cm}^2``,
    "5 inches"), ``\text{}`` wrappers, thousands separators (``10,\!080``),
    trailing periods and all whitespace; fixes ``\frac12``, ``\sqrt3``, ``1/2``
    and ``.5``. With ``separators``, "and"/"or" between items become commas, so a
    hedge "5 or 6" reads as the list "5,6". A leading ``x =`` is left in place:
    the comparison strips it per list item.
    """
    s = _WHITESPACE.sub(" ", s).strip()  # first: later patterns then never scan long runs of spaces
    if not s.isascii():
        s = s.translate(_UNICODE)
    s = _BOXCMD.sub("", s)
    s = _DOLLAR.sub("", s)
    s = _MATH_DELIMS.sub("", s)
    s = _SIZING.sub("", s)
    s = _THOUSANDS_BANG.sub(",", s)  # 11,\! 111 is one number
    s = _SPACING.sub(" ", s)
    s = _TEXTCMD.sub(r"\\text", s)
    s = _FRACCMD.sub(r"\\frac", s)
    # degrees: "90^\circ" is the number 90, but in "\cos 15^\circ" they are an angle unit (kept, as ^\circ)
    s = _DEGREES.sub(r"^\\circ" if _TRIG.search(s) else "", s)
    s = _PERCENT.sub("", s)
    s = s.replace("{,}", ",")
    if separators:
        s = _TEXT_ANDOR.sub(",", s)
    s = s.strip()
    for _ in range(2):  # "864 \text{ inches}^2", then a second unit word
        unitless = _TRAILING_UNIT.sub("", s)
        if unitless and unitless != s and not unitless.endswith(("\\text", "{")):
            s = unitless
    unitless = _PLAIN_UNIT.sub("", s)
    if unitless:
        s = unitless
    s = _TEXT_GROUP.sub(lambda m: m.group(1).strip(), s)
    if separators:
        s = _WORD_ANDOR.sub(",", s)
    s = _TRAILING_PUNCT.sub("", s.strip()).strip()
    if _THOUSANDS.fullmatch(s):  # no space after the commas: "58,500", not "100, 200"
        s = s.replace(",", "")
    s = _WHITESPACE.sub("", s)
    s = _TRAILING_PUNCT.sub("", s)
    s = strip_outer(s)
    choice = _CHOICE.fullmatch(s)
    if choice:
        s = choice.group(1).upper()
    if "\\frac" in s:
        s = _FRAC_SHORT.sub(_fix_frac_short, s)
    if "\\sqrt" in s:
        s = _SQRT_SHORT.sub(r"\\sqrt{\1}", s)
    slash = SLASH_FRACTION.fullmatch(s)
    if slash:
        s = f"\\frac{{{slash.group(1)}}}{{{slash.group(2)}}}"
    s = _LEADING_DOT.sub(r"0.\1", s)
    if "_{" in s:
        s = _BASE_SUBSCRIPT.sub(r"_\1", s)  # 4210_{5} -> 4210_5
    return s
