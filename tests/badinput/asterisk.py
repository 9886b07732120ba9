"""How Asterisk itself reads what we send, modelled byte for byte from its C sources.

The bad-input tests do not trust our own codecs to check themselves: they read our bytes back
the way Asterisk would.

- ``agi_read_commands``: res_agi.c ``run_agi`` reads a command with ``fgets`` into a
  2048-byte buffer; whatever does not fit becomes the next command.
- ``agi_parse_args``: res_agi.c ``parse_args`` splits one command into words (quotes group,
  backslash escapes, a NUL ends the line).
- ``manager_read_actions``: manager.c ``get_input`` reads lines of at most 1024 bytes
  (terminator included) and an empty line ends an action. On a longer line old versions drop
  the first 1024 bytes and read on (the tail becomes a line of its own); we model that, the
  more dangerous behaviour.
- ``app_separate_args``: app.c ``__ast_app_separate_args`` with ``remove_chars`` (how the
  Originate ``Variable`` header is split on commas).
"""

from __future__ import annotations

AGI_BUF_LEN = 2048
AGI_MAX_ARGS = 128
MANAGER_INBUF = 1025


def agi_read_commands(stream: bytes) -> list[bytes]:
    """The command lines Asterisk reads from ``stream`` (trailing newline removed)."""
    commands = []
    rest = stream
    while rest:
        chunk = rest[: AGI_BUF_LEN - 1]
        newline = chunk.find(b"\n")
        if newline >= 0:
            chunk = chunk[: newline + 1]
        rest = rest[len(chunk) :]
        text = chunk.split(b"\0", 1)[0]  # strlen stops at a NUL
        commands.append(text.removesuffix(b"\n"))
    return commands


def agi_parse_args(line: bytes) -> list[bytes]:
    """res_agi.c ``parse_args``: the words of one command line."""
    args: list[bytearray] = []
    quoted = escaped = False
    whitespace = True
    for byte in line:
        if byte == 0:
            break
        char = bytes([byte])
        normal = False
        if char == b'"':
            if escaped:
                normal = True
            else:
                quoted = not quoted
                if quoted and whitespace:
                    args.append(bytearray())
                    whitespace = False
                escaped = False
        elif char in (b" ", b"\t"):
            if not quoted and not escaped:
                whitespace = True
            else:
                normal = True
        elif char == b"\\":
            if escaped:
                normal = True
            else:
                escaped = True
        else:
            normal = True
        if normal:
            if whitespace:
                if len(args) >= AGI_MAX_ARGS - 1:
                    continue  # "Too many arguments, truncating"
                args.append(bytearray())
                whitespace = False
            args[-1] += char
            escaped = False
    return [bytes(a) for a in args]


def manager_read_lines(stream: bytes) -> list[bytes]:
    """manager.c ``get_input``: lines as Asterisk sees them (CRLF or LF removed)."""
    maxlen = MANAGER_INBUF - 1
    lines = []
    buffer = b""
    rest = stream
    while rest or buffer:
        room = maxlen - len(buffer)
        buffer, rest = buffer + rest[:room], rest[room:]
        lf = buffer.find(b"\n")
        if lf >= 0:
            line = buffer[:lf]
            lines.append(line.removesuffix(b"\r"))
            buffer = buffer[lf + 1 :]
        elif len(buffer) >= maxlen:
            buffer = b""  # "Dumping long line with no return": the tail is read as a new line
        elif not rest:
            break
    return lines


def manager_read_actions(stream: bytes) -> list[list[tuple[str, str]]]:
    """The actions (lists of ``(key, value)`` headers) Asterisk reads from ``stream``."""
    actions: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    for raw in manager_read_lines(stream):
        if not raw:
            if current:
                actions.append(current)
            current = []
            continue
        line = raw.decode("utf-8", "replace")
        key, sep, value = line.partition(":")
        if sep:
            current.append((key, value.lstrip(" ")))
        else:
            current.append((line, ""))
    if current:
        actions.append(current)
    return actions


def panoramisk_bytes(action: dict[str, str]) -> bytes:
    """How panoramisk 1.4 writes an action (``Action.__str__``): sorted ``Key: value`` lines."""
    lines = [f"{k}: {v}" for k, v in sorted(action.items())]
    return ("\r\n".join([*lines, "\r\n"])).encode("utf-8")


def app_separate_args(text: str, delim: str = ",") -> list[str]:
    """app.c ``__ast_app_separate_args`` with ``remove_chars`` set, on text."""
    out: list[str] = []
    current: list[str] = []
    paren = bracket = 0
    quote = False
    chars = list(text)
    i = 0
    ended_on_delim = False
    while i < len(chars):
        c = chars[i]
        ended_on_delim = False
        if c == "(":
            paren += 1
        elif c == ")":
            paren = max(0, paren - 1)
        elif c == "[":
            bracket += 1
        elif c == "]":
            bracket = max(0, bracket - 1)
        elif c == '"' and delim != '"':
            quote = not quote
            i += 1
            continue  # the quote is removed
        elif c == "\\":
            i += 1  # the backslash is removed and the next character taken as it is
            if i < len(chars):
                current.append(chars[i])
            i += 1
            continue
        elif c == delim and not paren and not quote and not bracket:
            out.append("".join(current))
            current = []
            ended_on_delim = True
            i += 1
            continue
        current.append(c)
        i += 1
    if current or ended_on_delim:
        out.append("".join(current))
    return out
