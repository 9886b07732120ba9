"""The prompt catalog (``prompts/catalog.yaml``) and reading numbers back as prompt names.

The catalog maps each prompt name (an Asterisk sound name relative to the language's sound
directory, e.g. ``ivr/main-menu``) to its text per language; ``ivr prompts build`` turns that
text into audio. The engine never plays text: numbers and digit strings are expanded here into
sequences of catalog prompts (``ivr/digit-4``, ``ivr/num-20``...) so the driver only plays files.

Number words per language (``say_number``), 0-9999; larger numbers are read digit by digit:

- ``zh``: 二十三 -> num-2 num-10 num-3; 十五 -> num-10 num-5; 一百零五 -> num-1 num-100 num-0 num-5;
  一千零二十 -> num-1 num-1000 num-0 num-2 num-10.
- ``en``: twenty three -> num-20 num-3; one hundred five -> num-1 num-100 num-5.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import yaml

from ivr.core.flow.model import DUPLICATE_KEY, SYNTAX, Prompts
from ivr.errors import FlowError, FlowProblem

PROMPT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*$")
LANGUAGES_WITH_NUMBER_WORDS = ("zh", "en")
_DIGIT_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class PromptCatalog:
    """Prompt name -> language -> text. ``source`` is the file it was read from."""

    prompts: Mapping[str, Mapping[str, str]]
    source: str = "<catalog>"

    def has(self, name: str, language: str) -> bool:
        """True when the prompt exists with non-empty text in that language."""
        return bool(self.prompts.get(name, {}).get(language))

    def text(self, name: str, language: str) -> str:
        """The prompt's text; KeyError when it is missing in that language."""
        return self.prompts[name][language]

    def missing(self, names: Iterable[str], languages: Iterable[str]) -> list[tuple[str, str]]:
        """(name, language) pairs that are not in the catalog, in the order asked."""
        langs = tuple(languages)
        return [(n, lang) for n in names for lang in langs if not self.has(n, lang)]


def parse_catalog(text: str, source: str) -> PromptCatalog:
    """Parse catalog YAML (``prompts: {name: {lang: text}}``); FlowError with every problem."""
    problems: list[FlowProblem] = []
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise FlowError([FlowProblem(source, line, "", f"YAML syntax: {exc}")]) from exc
    if not isinstance(root, yaml.MappingNode):
        raise FlowError([FlowProblem(source, 1, "", "catalog must be a mapping with 'prompts'")])
    prompts_node = next((v for k, v in root.value if k.value == "prompts"), None)
    if not isinstance(prompts_node, yaml.MappingNode):
        raise FlowError([FlowProblem(source, 1, "", "'prompts' must be a mapping name -> texts")])
    prompts: dict[str, dict[str, str]] = {}
    for key, value in prompts_node.value:
        name, line = str(key.value), key.start_mark.line + 1
        if name in prompts:
            problems.append(FlowProblem(source, line, "", f"prompt {name!r} twice", DUPLICATE_KEY))
            continue
        if not PROMPT_NAME.match(name):
            problems.append(FlowProblem(source, line, "", f"bad prompt name {name!r}", SYNTAX))
        if not isinstance(value, yaml.MappingNode):
            problems.append(FlowProblem(source, line, "", f"{name}: expected lang: text", SYNTAX))
            continue
        texts: dict[str, str] = {}
        for lk, lv in value.value:
            if not isinstance(lv, yaml.ScalarNode) or not str(lv.value).strip():
                problems.append(
                    FlowProblem(source, lk.start_mark.line + 1, "", f"{name}.{lk.value}: empty")
                )
                continue
            texts[str(lk.value)] = str(lv.value)
        prompts[name] = texts
    if problems:
        raise FlowError(problems)
    return PromptCatalog(prompts, source)


def say_digits(digits: str) -> Prompts:
    """A digit string read one digit at a time: "409" -> ivr/digit-4 ivr/digit-0 ivr/digit-9."""
    return tuple(f"ivr/digit-{d}" for d in digits if d.isdigit())


def _num(n: int) -> str:
    return f"ivr/num-{n}"


def _zh_below_100(n: int, *, leading: bool) -> list[str]:
    # 十五 at the head of a number, but 一百一十五 inside one: the "one" is spoken then.
    tens, units = divmod(n, 10)
    if tens == 0:
        return [_num(units)]
    out = [] if tens == 1 and leading else [_num(tens)]
    out.append(_num(10))
    if units:
        out.append(_num(units))
    return out


def _zh(n: int) -> list[str]:
    if n < 100:
        return _zh_below_100(n, leading=True)
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        out = [_num(hundreds), _num(100)]
        if rest == 0:
            return out
        if rest < 10:
            return [*out, _num(0), _num(rest)]
        return out + _zh_below_100(rest, leading=False)
    thousands, rest = divmod(n, 1000)
    out = [_num(thousands), _num(1000)]
    if rest == 0:
        return out
    if rest < 100:
        return [*out, _num(0), *_zh_below_100(rest, leading=False)]
    hundreds, rest2 = divmod(rest, 100)
    out += [_num(hundreds), _num(100)]
    if rest2 == 0:
        return out
    if rest2 < 10:
        return [*out, _num(0), _num(rest2)]
    return out + _zh_below_100(rest2, leading=False)


def _en_below_100(n: int) -> list[str]:
    if n < 20:
        return [_num(n)]
    tens, units = divmod(n, 10)
    return [_num(tens * 10)] + ([_num(units)] if units else [])


def _en(n: int) -> list[str]:
    if n < 100:
        return _en_below_100(n)
    out: list[str] = []
    thousands, rest = divmod(n, 1000)
    if thousands:
        out += [_num(thousands), _num(1000)]
    hundreds, rest = divmod(rest, 100)
    if hundreds:
        out += [_num(hundreds), _num(100)]
    if rest:
        out += _en_below_100(rest)
    return out


def say_number(n: int, language: str) -> Prompts:
    """A non-negative count (queue position, minutes) as number-word prompts in ``language``.

    Numbers of 10,000 or more, and languages without number rules, are read digit by digit.
    """
    if n < 0:
        raise ValueError(f"cannot read a negative number: {n}")
    if n >= _DIGIT_LIMIT or language not in LANGUAGES_WITH_NUMBER_WORDS:
        return say_digits(str(n))
    return tuple(_zh(n) if language == "zh" else _en(n))


def number_prompt_names() -> frozenset[str]:
    """Every prompt ``say_number``/``say_digits`` can produce (the catalog must hold them all)."""
    names = {f"ivr/digit-{d}" for d in range(10)}
    names |= {_num(n) for n in range(20)}
    names |= {_num(n) for n in range(20, 100, 10)}
    names |= {_num(100), _num(1000), TWO_COUNTED}
    return frozenset(names)


TWO_COUNTED = "ivr/num-2-counted"
"""Mandarin's 两: a count of things says 两位, 两分钟, 两百, never 二位."""

QUEUE_NEXT = "ivr/queue-next"
QUEUE_AHEAD = "ivr/queue-ahead"
QUEUE_CALLERS = "ivr/queue-callers"
QUEUE_WAIT = "ivr/queue-wait-is"
QUEUE_MINUTES = "ivr/queue-minutes"
QUEUE_MINUTE = "ivr/queue-minute"
QUEUE_NO_ESTIMATE = "ivr/queue-no-estimate"
QUEUE_PROMPTS = frozenset({
    QUEUE_NEXT, QUEUE_AHEAD, QUEUE_CALLERS, QUEUE_WAIT, QUEUE_MINUTES, QUEUE_MINUTE,
    QUEUE_NO_ESTIMATE, TWO_COUNTED,
})
# Languages whose QUEUE_AHEAD sentence counts the callers ahead ("您前面还有两位来电者");
# the others say the caller's place ("You are number 3 in line").
_COUNTS_AHEAD = frozenset({"zh"})


def say_count(n: int, language: str) -> Prompts:
    """A count of things (callers, minutes) as number words: ``say_number``, except that
    Mandarin says 两 for a lone 2 and before 百 or 千 (两位, 两分钟, 两百), as people do."""
    words = say_number(n, language)
    if language != "zh" or n >= _DIGIT_LIMIT:
        return words
    out = list(words)
    for i, word in enumerate(out):
        following = out[i + 1] if i + 1 < len(out) else None
        if word == _num(2) and (len(out) == 1 or following in (_num(100), _num(1000))):
            out[i] = TWO_COUNTED
    return tuple(out)


def announce_wait(position: int, minutes: int | None, language: str) -> Prompts:
    """What a caller hears before waiting: their place (1 = next) and, when it could be
    estimated, the expected wait in minutes; otherwise a whole sentence saying an operator
    will come as soon as possible (no made-up figure).

    zh: 您是下一位。| 您前面还有两位来电者。+ 预计等待约两分钟。|
    接线员将尽快为您服务 (please hold).
    en: You are next in line. | You are number 3 in line. + The expected wait is about
    2 minutes. | An operator will be with you as soon as possible.
    """
    if position < 1:
        raise ValueError(f"position starts at 1, got {position}")
    if position == 1:
        place: Prompts = (QUEUE_NEXT,)
    elif language in _COUNTS_AHEAD:
        place = (QUEUE_AHEAD, *say_count(position - 1, language), QUEUE_CALLERS)
    else:
        place = (QUEUE_AHEAD, *say_number(position, language), QUEUE_CALLERS)
    return (*place, *announce_expected_wait(minutes, language))


def announce_expected_wait(minutes: int | None, language: str) -> Prompts:
    """The expected wait alone (when app_queue tells the place itself, see
    ``POSITION_PROMPTS``): "预计等待约两分钟。", or the no-estimate sentence."""
    if minutes is None:
        return (QUEUE_NO_ESTIMATE,)
    unit = QUEUE_MINUTE if minutes == 1 and language not in _COUNTS_AHEAD else QUEUE_MINUTES
    return (QUEUE_WAIT, *say_count(minutes, language), unit)


QUEUE_PLACE = "ivr/queue-place"
QUEUE_PLACE_END = "ivr/queue-place-end"
QUEUE_THANKS = "ivr/queue-thanks"
POSITION_PROMPTS = frozenset({QUEUE_NEXT, QUEUE_PLACE, QUEUE_PLACE_END, QUEUE_THANKS})
"""What app_queue says while a caller waits (``announce-position``): "您是下一位。", or
QUEUE_PLACE, the place (Asterisk reads the number), QUEUE_PLACE_END ("您现在排在第 三 位。",
"You are number three in line."), then QUEUE_THANKS. Mandarin says the ordinal place (第三位,
where 二 is right: 第二位), as app_queue can only say the place, not the callers ahead."""

ASTERISK_DIGITS_LANGUAGES = frozenset({"zh"})
"""Languages whose Asterisk ``digits/`` files are built from the catalog's number words
(Asterisk ships English ones only)."""


def asterisk_digits() -> dict[str, str]:
    """Asterisk's ``digits/`` file -> the catalog's number-word prompt that says it: what
    Asterisk's number reading (``SayNumber``, app_queue's place) plays, in any language's
    rules (units, 10-19, the tens, hundred, thousand)."""
    files = {f"digits/{n}": _num(n) for n in range(20)}
    files |= {f"digits/{n}": _num(n) for n in range(20, 100, 10)}
    files |= {"digits/hundred": _num(100), "digits/thousand": _num(1000)}
    return files
