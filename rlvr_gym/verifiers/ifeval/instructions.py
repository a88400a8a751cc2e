"""The 25 IFEval instructions: one checker per instruction id, all held in `INSTRUCTIONS`.

Each checker is a small function ``check(response, **kwargs) -> bool`` registered
under its id together with a parser for each of its keyword arguments. The ids,
keyword names and semantics are those of google-research's
``instruction_following_eval`` (Zhou et al. 2023, "Instruction-Following Evaluation
for Large Language Models"); this is an independent implementation of them.

Where this differs from the reference, on purpose
    - Keyword arguments are required. The reference fills a missing one with a random
      value; here a missing, unknown or ill-typed keyword argument makes the ground truth
      invalid (`InvalidGroundTruth`), and so does an empty string.
    - Keywords, forbidden words, section splitters and postscript markers are matched as
      literal text. The reference pastes them into regular expressions; for the official
      data (plain words, ``P.S.`` and ``P.P.S``) the two agree, and literal matching
      cannot be broken, or slowed down, by a ``+`` or a ``(`` in the data.
    - The reference's regular expressions that backtrack quadratically on long hostile
      input (bullet lines, placeholders, titles, postscripts) are replaced by linear
      scans that count exactly the same matches (tests check them against ``re.findall``).
    - ``json_format``: a document too deeply nested for Python's ``json`` (which raises
      ``RecursionError`` there, crashing the reference) does not count as JSON.

``keywords:letter_frequency`` counts the single character given, whatever it is (``#``,
``!``), as google-research's current code does. Its 2023 code, and the copies made from
it, replaced any letter outside a-z by a random ASCII letter, so verdicts on such
instructions (two of the official prompts) were random there.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping

from ..base import InvalidGroundTruth
from .nlp import count_capital_words, count_sentences, count_words, detect_language

__all__ = ["INSTRUCTIONS", "Instruction", "LANGUAGE_CODES", "RELATIONS"]

RELATIONS = ("less than", "at least")
"""The comparison relations the reference supports."""

LANGUAGE_CODES = MappingProxyType(
    {
        "en": "English", "es": "Spanish", "pt": "Portuguese", "ar": "Arabic", "hi": "Hindi",
        "fr": "French", "ru": "Russian", "de": "German", "ja": "Japanese", "it": "Italian",
        "bn": "Bengali", "uk": "Ukrainian", "th": "Thai", "ur": "Urdu", "ta": "Tamil",
        "te": "Telugu", "bg": "Bulgarian", "ko": "Korean", "pl": "Polish", "he": "Hebrew",
        "fa": "Persian", "vi": "Vietnamese", "ne": "Nepali", "sw": "Swahili", "kn": "Kannada",
        "mr": "Marathi", "gu": "Gujarati", "pa": "Punjabi", "ml": "Malayalam", "fi": "Finnish",
    }
)  # fmt: skip
"""ISO 639-1 codes accepted by ``language:response_language`` (the reference's table)."""

CONSTRAINED_RESPONSES = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


# --------------------------------------------------------------------------------------
# Keyword-argument parsers: (name, raw value) -> clean value, or InvalidGroundTruth.
# --------------------------------------------------------------------------------------

Parser = Callable[[str, Any], Any]


def _integer(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidGroundTruth(f"kwarg {name!r} must be an integer, got {value!r}")
    if isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer()):
            raise InvalidGroundTruth(f"kwarg {name!r} must be an integer, got {value!r}")
        value = int(value)
    return value


def _count(name: str, value: Any) -> int:
    value = _integer(name, value)
    if value < 0:
        raise InvalidGroundTruth(f"kwarg {name!r} must be >= 0, got {value!r}")
    return value


def _relation(name: str, value: Any) -> str:
    if value not in RELATIONS:
        raise InvalidGroundTruth(f"kwarg {name!r} must be one of {list(RELATIONS)}, got {value!r}")
    return value


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidGroundTruth(f"kwarg {name!r} must be a non-empty string, got {value!r}")
    return value


def _stripped(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidGroundTruth(f"kwarg {name!r} must be a non-blank string, got {value!r}")
    return value.strip()


def _lowered(name: str, value: Any) -> str:
    return _text(name, value).lower()


def _letter(name: str, value: Any) -> str:
    if not isinstance(value, str) or len(value) != 1 or value.isspace():
        raise InvalidGroundTruth(f"kwarg {name!r} must be a single non-space character, got {value!r}")
    return value.lower()


def _word_list(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
        raise InvalidGroundTruth(f"kwarg {name!r} must be a non-empty list of strings, got {value!r}")
    return tuple(_text(f"{name}[{i}]", word) for i, word in enumerate(value))


def _language(name: str, value: Any) -> str:
    if value not in LANGUAGE_CODES:
        raise InvalidGroundTruth(f"kwarg {name!r} must be one of {sorted(LANGUAGE_CODES)}, got {value!r}")
    return value


# --------------------------------------------------------------------------------------
# The registry.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    """One instruction id: its checker and the parsers of its keyword arguments."""

    id: str
    check: Callable[..., bool]
    """``check(response, **kwargs) -> bool``: whether ``response`` follows the instruction."""
    params: Mapping[str, Parser]
    validate: Callable[[Mapping[str, Any]], None] | None = None
    """Checks between keyword arguments, run after each one is parsed."""

    def parse_kwargs(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Clean keyword arguments (``None`` values dropped first), or `InvalidGroundTruth`."""
        given = {key: value for key, value in raw.items() if value is not None}
        unknown = sorted(map(str, set(given) - set(self.params)))
        if unknown:
            raise InvalidGroundTruth(f"unknown kwargs {unknown}; {self.id!r} takes {sorted(self.params)}")
        missing = sorted(set(self.params) - set(given))
        if missing:
            raise InvalidGroundTruth(f"missing kwargs {missing}")
        kwargs = {name: parse(name, given[name]) for name, parse in self.params.items()}
        if self.validate is not None:
            self.validate(kwargs)
        return kwargs


INSTRUCTIONS: dict[str, Instruction] = {}
"""Instruction id -> `Instruction`: the 25 ids of the reference's registry."""


def _instruction(
    instruction_id: str, validate: Callable[[Mapping[str, Any]], None] | None = None, **params: Parser
) -> Callable[[Callable[..., bool]], Callable[..., bool]]:
    def register(check: Callable[..., bool]) -> Callable[..., bool]:
        INSTRUCTIONS[instruction_id] = Instruction(instruction_id, check, MappingProxyType(params), validate)
        return check

    return register


def _compare(actual: int, relation: str, threshold: int) -> bool:
    return actual < threshold if relation == "less than" else actual >= threshold


def _literal(text: str) -> re.Pattern[str]:
    return re.compile(re.escape(text), re.IGNORECASE)


# --------------------------------------------------------------------------------------
# keywords:*
# --------------------------------------------------------------------------------------


@_instruction("keywords:existence", keywords=_word_list)
def _keywords_existence(response: str, *, keywords: tuple[str, ...]) -> bool:
    """Every keyword appears, ignoring case (as a substring)."""
    return all(_literal(keyword).search(response) for keyword in keywords)


@_instruction("keywords:frequency", keyword=_stripped, frequency=_count, relation=_relation)
def _keywords_frequency(response: str, *, keyword: str, frequency: int, relation: str) -> bool:
    """The keyword's case-insensitive, non-overlapping occurrences compared with ``frequency``."""
    occurrences = sum(1 for _ in _literal(keyword).finditer(response))
    return _compare(occurrences, relation, frequency)


@_instruction("keywords:forbidden_words", forbidden_words=_word_list)
def _keywords_forbidden_words(response: str, *, forbidden_words: tuple[str, ...]) -> bool:
    """No forbidden word appears between word boundaries (``\\bword\\b``), ignoring case."""
    return not any(
        re.search(r"\b" + re.escape(word) + r"\b", response, flags=re.IGNORECASE) for word in forbidden_words
    )


@_instruction("keywords:letter_frequency", letter=_letter, let_frequency=_count, let_relation=_relation)
def _keywords_letter_frequency(response: str, *, letter: str, let_frequency: int, let_relation: str) -> bool:
    """Occurrences of the letter in the lower-cased response compared with ``let_frequency``."""
    # A letter whose lower case is two characters ("İ") is never counted by the reference,
    # which counts single characters.
    occurrences = response.lower().count(letter) if len(letter) == 1 else 0
    return _compare(occurrences, let_relation, let_frequency)


# --------------------------------------------------------------------------------------
# language:*
# --------------------------------------------------------------------------------------


@_instruction("language:response_language", language=_language)
def _response_language(response: str, *, language: str) -> bool:
    """langdetect reads the response as ``language`` (or cannot tell at all)."""
    detected = detect_language(response)
    return detected is None or detected == language


# --------------------------------------------------------------------------------------
# length_constraints:*
# --------------------------------------------------------------------------------------


@_instruction("length_constraints:number_sentences", num_sentences=_count, relation=_relation)
def _number_sentences(response: str, *, num_sentences: int, relation: str) -> bool:
    """Punkt English sentences compared with ``num_sentences``."""
    return _compare(count_sentences(response), relation, num_sentences)


_DIVIDER = re.compile(r"\s?\*\*\*\s?")


@_instruction("length_constraints:number_paragraphs", num_paragraphs=_count)
def _number_paragraphs(response: str, *, num_paragraphs: int) -> bool:
    """Exactly ``num_paragraphs`` paragraphs separated by ``***`` dividers, none of them empty.

    An empty piece before the first or after the last divider is not counted; an empty
    piece between two dividers fails the instruction.
    """
    pieces = _DIVIDER.split(response)
    count = len(pieces)
    for index, piece in enumerate(pieces):
        if not piece.strip():
            if index in (0, len(pieces) - 1):
                count -= 1
            else:
                return False
    return count == num_paragraphs


@_instruction("length_constraints:number_words", num_words=_count, relation=_relation)
def _number_words(response: str, *, num_words: int, relation: str) -> bool:
    """Words (runs of ``\\w``) compared with ``num_words``."""
    return _compare(count_words(response), relation, num_words)


def _validate_nth_paragraph(kwargs: Mapping[str, Any]) -> None:
    if not 1 <= kwargs["nth_paragraph"] <= kwargs["num_paragraphs"]:
        raise InvalidGroundTruth(
            f"kwarg 'nth_paragraph' must be between 1 and num_paragraphs={kwargs['num_paragraphs']}, "
            f"got {kwargs['nth_paragraph']!r}"
        )


_FIRST_WORD_STOP = frozenset(".,?!'\"")


@_instruction(
    "length_constraints:nth_paragraph_first_word",
    validate=_validate_nth_paragraph,
    num_paragraphs=_count,
    nth_paragraph=_integer,
    first_word=_lowered,
)
def _nth_paragraph_first_word(response: str, *, num_paragraphs: int, nth_paragraph: int, first_word: str) -> bool:
    """Exactly ``num_paragraphs`` non-blank paragraphs split on ``"\\n\\n"``, and paragraph
    ``nth_paragraph`` (counted in the raw split, blank pieces included) starts with ``first_word``.

    The first word is the first whitespace-separated token, with leading quotes removed,
    cut at the first ``. , ? ! ' "`` and lower-cased character by character.
    """
    paragraphs = response.split("\n\n")
    count = sum(1 for paragraph in paragraphs if paragraph.strip())
    if nth_paragraph > count:
        return False
    paragraph = paragraphs[nth_paragraph - 1].strip()
    if not paragraph:
        return False
    word = paragraph.split()[0].lstrip("'").lstrip('"')
    found = []
    for char in word:
        if char in _FIRST_WORD_STOP:
            break
        found.append(char.lower())
    return count == num_paragraphs and "".join(found) == first_word


# --------------------------------------------------------------------------------------
# detectable_content:*
# --------------------------------------------------------------------------------------


def _count_placeholders(text: str) -> int:
    """``len(re.findall(r"\\[.*?\\]", text))`` in linear time: ``[`` then the first ``]`` on its line."""
    count = 0
    line_end = -1  # end of the line holding the current "[" (exclusive)
    start = text.find("[")
    while start != -1:
        if start > line_end:
            line_end = text.find("\n", start)
            if line_end == -1:
                line_end = len(text)
        close = text.find("]", start + 1, line_end)
        if close != -1:
            count += 1
            start = text.find("[", close + 1)
        else:  # no "]" left on this line: no "[" on it can open a placeholder
            start = text.find("[", line_end + 1)
    return count


@_instruction("detectable_content:number_placeholders", num_placeholders=_count)
def _number_placeholders(response: str, *, num_placeholders: int) -> bool:
    """At least ``num_placeholders`` ``[...]`` placeholders (each within one line)."""
    return _count_placeholders(response) >= num_placeholders


# The reference searches r"\s*p\.\s?p\.\s?s.*$" (or r"\s*p\.\s?s\..*$") in the lower-cased
# response; a match exists exactly when the core below occurs (the leading \s* and the
# trailing .*$ always match), and searching for the core alone cannot go quadratic.
_POSTSCRIPT_CORES = {"P.P.S": re.compile(r"p\.\s?p\.\s?s"), "P.S.": re.compile(r"p\.\s?s\.")}


@_instruction("detectable_content:postscript", postscript_marker=_stripped)
def _postscript(response: str, *, postscript_marker: str) -> bool:
    """The postscript marker occurs anywhere in the lower-cased response.

    ``P.P.S`` and ``P.S.`` allow one optional whitespace after each period (``p. s.``);
    any other marker is searched for literally.
    """
    core = _POSTSCRIPT_CORES.get(postscript_marker)
    lowered = response.lower()
    if core is None:
        return postscript_marker.lower() in lowered
    return core.search(lowered) is not None


# --------------------------------------------------------------------------------------
# detectable_format:*
# --------------------------------------------------------------------------------------

_LEADING_SPACE = re.compile(r"\s*")


def _count_line_items(text: str, marker_end: Callable[[str, int], int | None]) -> int:
    """Count ``re.findall(r"^\\s*<marker>.*$", text, re.MULTILINE)`` in linear time.

    A match starts at a line start, skips whitespace (newlines included), needs the marker
    there, and runs to the end of the line where the marker ends. ``marker_end(text, j)``
    gives the index just past the marker found at ``j``, or None when there is none.
    A failed attempt fails for every line start up to the first non-space character too,
    so the scan resumes on the line after it.
    """
    count = 0
    pos = 0
    length = len(text)
    while pos <= length:
        first = _LEADING_SPACE.match(text, pos).end()  # type: ignore[union-attr]
        end = marker_end(text, first)
        if end is not None:
            count += 1
            newline = text.find("\n", end)
        else:
            newline = text.find("\n", first)
        if newline == -1:
            break
        pos = newline + 1
    return count


def _star_item(text: str, j: int) -> int | None:
    # r"\*[^\*]": a star, then any one character but a star (a newline included)
    if j + 1 < len(text) and text[j] == "*" and text[j + 1] != "*":
        return j + 2
    return None


def _dash_item(text: str, j: int) -> int | None:
    return j + 1 if j < len(text) and text[j] == "-" else None


@_instruction("detectable_format:number_bullet_lists", num_bullets=_count)
def _number_bullet_lists(response: str, *, num_bullets: int) -> bool:
    """Exactly ``num_bullets`` lines starting (after whitespace) with ``*`` (not ``**``) or ``-``."""
    return _count_line_items(response, _star_item) + _count_line_items(response, _dash_item) == num_bullets


@_instruction("detectable_format:constrained_response")
def _constrained_response(response: str) -> bool:
    """The response contains one of the three "My answer is yes./no./maybe." options."""
    stripped = response.strip()
    return any(option in stripped for option in CONSTRAINED_RESPONSES)


_SINGLE_HIGHLIGHT = re.compile(r"\*[^\n\*]*\*")
_DOUBLE_HIGHLIGHT = re.compile(r"\*\*[^\n\*]*\*\*")


@_instruction("detectable_format:number_highlighted_sections", num_highlights=_count)
def _number_highlighted_sections(response: str, *, num_highlights: int) -> bool:
    """At least ``num_highlights`` non-blank ``*...*`` spans plus ``**...**`` spans (each within a line).

    Both kinds are counted independently, as the reference does: ``**a**`` counts once
    as a double highlight and not as a single one (its single-star match is ``**``, blank).
    """
    count = sum(1 for m in _SINGLE_HIGHLIGHT.finditer(response) if m.group().strip("*").strip())
    count += sum(1 for m in _DOUBLE_HIGHLIGHT.finditer(response) if m.group()[2:-2].strip())
    return count >= num_highlights


@_instruction("detectable_format:multiple_sections", section_spliter=_stripped, num_sections=_count)
def _multiple_sections(response: str, *, section_spliter: str, num_sections: int) -> bool:
    """At least ``num_sections`` headers "<splitter> <number>" (case-sensitive, e.g. ``SECTION 2``)."""
    header = re.compile(r"\s?" + re.escape(section_spliter) + r"\s?\d+\s?")
    return sum(1 for _ in header.finditer(response)) >= num_sections


_JSON_FENCES = ("```json", "```Json", "```JSON", "```")


@_instruction("detectable_format:json_format")
def _json_format(response: str) -> bool:
    """The response, stripped of one leading ```json/```Json/```JSON/``` fence and one trailing ```, is JSON."""
    value = response.strip()
    for prefix in _JSON_FENCES:
        value = value.removeprefix(prefix)
    value = value.removesuffix("```").strip()
    try:
        json.loads(value)
    except (ValueError, RecursionError):
        return False
    return True


@_instruction("detectable_format:title")
def _title(response: str) -> bool:
    """Some line holds a ``<<title>>`` whose text is not blank.

    The reference's ``<<[^\\n]+>>`` matches at most once per line: from the line's first
    ``<<`` to its last ``>>`` (at least one character apart).
    """
    for line in response.split("\n"):
        start = line.find("<<")
        if start == -1:
            continue
        end = line.rfind(">>")
        if end >= start + 3 and line[start : end + 2].lstrip("<").rstrip(">").strip():
            return True
    return False


# --------------------------------------------------------------------------------------
# combination:*
# --------------------------------------------------------------------------------------


@_instruction("combination:two_responses")
def _two_responses(response: str) -> bool:
    """Exactly two different non-blank answers separated by ``******``.

    A blank piece is allowed only before the first or after the last separator.
    """
    pieces = response.split("******")
    answers = []
    for index, piece in enumerate(pieces):
        if piece.strip():
            answers.append(piece)
        elif index not in (0, len(pieces) - 1):
            return False
    return len(answers) == 2 and answers[0].strip() != answers[1].strip()


@_instruction("combination:repeat_prompt", prompt_to_repeat=_stripped)
def _repeat_prompt(response: str, *, prompt_to_repeat: str) -> bool:
    """The response starts with ``prompt_to_repeat``, ignoring case and surrounding whitespace."""
    return response.strip().lower().startswith(prompt_to_repeat.lower())


# --------------------------------------------------------------------------------------
# startend:*
# --------------------------------------------------------------------------------------


@_instruction("startend:end_checker", end_phrase=_stripped)
def _end_checker(response: str, *, end_phrase: str) -> bool:
    """The response, stripped of whitespace then of double quotes, ends with ``end_phrase`` (any case)."""
    return response.strip().strip('"').lower().endswith(end_phrase.lower())


@_instruction("startend:quotation")
def _quotation(response: str) -> bool:
    """The stripped response is at least two characters, starting and ending with ``"``."""
    stripped = response.strip()
    return len(stripped) > 1 and stripped[0] == '"' and stripped[-1] == '"'


# --------------------------------------------------------------------------------------
# change_case:*
# --------------------------------------------------------------------------------------


@_instruction("change_case:capital_word_frequency", capital_frequency=_integer, capital_relation=_relation)
def _capital_word_frequency(response: str, *, capital_frequency: int, capital_relation: str) -> bool:
    """NLTK word tokens that are all upper case (``str.isupper``) compared with ``capital_frequency``."""
    # Either relation is decided once the count reaches the threshold.
    capitals = count_capital_words(response, stop_at=max(capital_frequency, 0))
    return _compare(capitals, capital_relation, capital_frequency)


@_instruction("change_case:english_capital")
def _english_capital(response: str) -> bool:
    """``str.isupper`` holds and langdetect reads English (or cannot tell)."""
    return response.isupper() and detect_language(response) in (None, "en")


@_instruction("change_case:english_lowercase")
def _english_lowercase(response: str) -> bool:
    """``str.islower`` holds and langdetect reads English (or cannot tell)."""
    return response.islower() and detect_language(response) in (None, "en")


# --------------------------------------------------------------------------------------
# punctuation:*
# --------------------------------------------------------------------------------------


@_instruction("punctuation:no_comma")
def _no_comma(response: str) -> bool:
    """No ASCII comma anywhere."""
    return "," not in response


assert len(INSTRUCTIONS) == 25, sorted(INSTRUCTIONS)
