"""Hostile values shared by the bad-input tests: what a caller, a peer or an admin might send.

Every value is a ``pytest.param`` with a readable id, so a failure names the value that broke
the codec. ``CALLER_TEXT`` is text a caller controls (number, name, a transcript, digits);
``RAW_BYTES`` is the same on the wire before decoding, including invalid UTF-8.
"""

from __future__ import annotations

from typing import Final

import pytest

KIB: Final = 1024

# Bytes that are not UTF-8: a lone continuation byte, a truncated sequence, an overlong
# encoding of "/", a UTF-16 surrogate encoded in UTF-8, and bytes that never occur in UTF-8.
INVALID_UTF8: Final = (
    b"\x80",
    b"\xe4\xb8",  # the first two bytes of a three-byte character
    b"\xc0\xaf",  # overlong "/"
    b"\xed\xa0\x80",  # an encoded surrogate
    b"\xfe\xff",
    b"caller\xff\xfename",
)


def _decoded(raw: bytes) -> list[str]:
    """The two ways our codecs turn undecodable bytes into text."""
    return [raw.decode("utf-8", "replace"), raw.decode("utf-8", "surrogateescape")]


_TEXT: Final[dict[str, str]] = {
    "plain": "Wang Fang",
    "empty": "",
    "space_only": "   ",
    "cr": "x\rAction: Logoff",
    "lf": "x\nEXEC System rm",
    "crlf": "x\r\nAction: Originate\r\nChannel: Local/1@x",
    "crlf_blank": "x\r\n\r\nAction: Logoff\r\n\r\n",
    "lone_lf_end": "trailing\n",
    "nul": "nul\x00byte",
    "all_controls": "".join(chr(c) for c in range(32)) + "\x7f",
    "double_quote": 'Li "the boss"',
    "unbalanced_quote": 'x" "second',
    "single_quote": "O'Brien",
    "backtick": "`id`",
    "backslash": "back\\slash",
    "trailing_backslash": "ends with\\",
    "escaped_quote": '\\"',
    "comma": "Zhang,Wei",
    "semicolon": "a;b",
    "pipe": "a|b",
    "shell_subst": "$(reboot)",
    "shell_var": "${SHELL}",
    "asterisk_func": "${SHELL(rm -rf /)}",
    "sql": "'; DROP TABLE cases; --",
    "parens": "x(,y)",
    "equals": "A=B",
    "colon_header": "Action: Logoff",
    "agi_verb": '" EXEC System "rm -rf /',
    "tab": "a\tb",
    "rtl": "\u202eevil\u202c \u05e9\u05dc\u05d5\u05dd",
    "combining": "e\u0301\u0301\u0301\u0301",
    "zero_width": "a\u200bb\ufeffc",
    "emoji": "📞🚨👨‍👩‍👧",
    "chinese": "王芳 投诉",
    "line_separator": "a\u2028b\u2029c\x85d",
    "overlong_64k": "A" * (64 * KIB),
    "overlong_quotes": '"' * (8 * KIB),
    "overlong_crlf": "\r\n" * (4 * KIB),
}
for _i, _raw in enumerate(INVALID_UTF8):
    for _how, _text in zip(("replace", "surrogateescape"), _decoded(_raw), strict=True):
        _TEXT[f"bad_utf8_{_i}_{_how}"] = _text

CALLER_TEXT: Final = [pytest.param(v, id=k) for k, v in _TEXT.items()]
"""Text a caller controls (caller id, caller name, a transcript), as pytest params."""

CALLER_TEXT_VALUES: Final = dict(_TEXT)

RAW_BYTES: Final = [
    pytest.param(v, id=f"bytes_{k}")
    for k, v in {
        **{f"invalid_utf8_{i}": raw for i, raw in enumerate(INVALID_UTF8)},
        "nul": b"a\x00b",
        "cr": b"a\rb",
        "latin1": "Müller".encode("latin-1"),
        "gbk": "王芳".encode("gbk"),
        "overlong_64k": b"\xff" * (64 * KIB),
    }.items()
]
"""The same on the wire, before any decoding."""

# DTMF as a caller can produce it, and what a broken phone or a fake peer might send.
DTMF_VALID: Final = "0123456789*#ABCD"
DTMF_FLOODS: Final = [
    pytest.param("1" * 1000, id="thousand_ones"),
    pytest.param("*#" * 500, id="star_hash_storm"),
    pytest.param("ABCD" * 250, id="letters_a_to_d"),
    pytest.param("0123456789*#ABCD" * 64, id="every_key_repeated"),
]
DTMF_INVALID: Final = [
    pytest.param(key, id=f"key_{ord(key):02x}" if len(key) == 1 else f"key_{key!r}")
    for key in ("E", "a", "d", "e", " ", "\x00", "\n", "+", "٣", "１", "", "11", "*#")
]
