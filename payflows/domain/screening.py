"""Screening text for card numbers typed where they must not go, and redacting error messages.

A shopper who types a card number into the order id or the name field, or an export that puts a
PAN in a CSV's phone column, must be stopped at the door: past it, the value would be written to
the ledger, a Prefect parameter, a log line or the gateway's reference. Rule 4 of the project says
card data never rests anywhere but the card field on its way to the gateway.

What counts as a card number: a Luhn-valid run of 12 to 19 digits, whatever separates its digits
(spaces, dashes, dots, slashes, underscores, ``" - "``, zero-width spaces...), and whatever script
its digits are written in (Arabic-Indic, full-width, superscript digits all count: they are
normalised to ASCII before the test). Precisely, the text is cut into *chains*: digit groups joined
by at most :data:`MAX_GAP` characters that are neither letters nor digits. A letter or a longer gap
ends a chain, and neither a UUID (``8-4-4-4-12`` hex digits, how gateways name purchases) nor an
IPv4 address (``192.168.100.200``, four octets up to 255) is ever a card number. Every run of
consecutive groups of one chain holding 12 to 19 digits in total is a candidate (so
``ref 12 4111 1111 1111 1111`` is caught although the chain has 18 digits); a single group of
more than 19 digits is a long identifier, not a card number.

Error messages take the other route: they should never quote a raw value at all, and
:func:`redact` is the last line for the ones that must show some text: it hides every chain of 12
or more digits, Luhn-valid or not.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping

from payflows.domain.cards import luhn_valid

__all__ = [
    "MAX_GAP",
    "CardNumberInField",
    "contains_card_number",
    "find_card_number",
    "normalise_digits",
    "redact",
    "screen",
    "screen_value",
]

#: How many non-alphanumeric characters may separate two digits of one number (" - " is three).
MAX_GAP = 3
_MIN, _MAX = 12, 19
_HIDDEN = "[digits hidden]"


class CardNumberInField(ValueError):
    """A field that is not the card number holds what looks like one. The value is not quoted."""

    def __init__(self, field: str) -> None:
        self.field = redact(str(field))[:80]
        super().__init__(
            f"{self.field} looks like it holds a card number; card numbers are accepted only "
            "in the card number field"
        )


def _digit(ch: str) -> str | None:
    """The ASCII digit ``ch`` stands for (any script, superscripts included), else None."""
    value = unicodedata.digit(ch, None)
    return None if value is None else str(value)


def normalise_digits(text: str) -> str:
    """``text`` with every digit of any script (Arabic-Indic, full-width, ``²``) made ASCII.

    One character for one, so positions in the result are positions in ``text``.
    """
    if text.isascii():
        return text
    return "".join(_digit(ch) or ch for ch in text)


#: A chain: digit groups joined by 1 to MAX_GAP characters that are neither letters nor digits
#: (``_`` counts as a separator). The two alternatives never overlap, so matching is linear.
_CHAIN = re.compile(rf"[0-9]+(?:(?:[^\w]|_){{1,{MAX_GAP}}}[0-9]+)*")
_GROUP = re.compile(r"[0-9]+")


#: Twelve digits, anything between them: fewer, and no card number can be there. Possessive, so
#: a value that fails it is given up on without backtracking.
_TWELVE_DIGITS = re.compile(r"(?:[^0-9]*+[0-9]){12}")


def _few_digits(text: str) -> bool:
    """A cheap test that settles most values: too short, or fewer than 12 digits of any script.

    Conservative: it ignores gaps, UUIDs and Luhn, so a False only sends ``text`` to the full
    check.
    """
    if len(text) < _MIN:
        return True
    return _TWELVE_DIGITS.match(normalise_digits(text)) is None


#: A UUID (8-4-4-4-12 hex digits): a gateway's or a ledger's id, never a card number. Its
#: all-digit groups would otherwise make Luhn-valid windows about once in 2,000 random UUIDs.
_UUID = re.compile(
    r"(?<![0-9A-Za-z])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"(?![0-9A-Za-z])"
)


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
#: An IPv4 dotted quad (a shopper's address, a log's): four octets of at most 255, never a card
#: number, although its 12 digits joined by dots make a Luhn-valid chain one time in ten.
_IPV4 = re.compile(rf"(?<![0-9.]){_OCTET}(?:\.{_OCTET}){{3}}(?![0-9]|\.[0-9])")
#: Digits within a chain's gap of the quad: then it is part of a longer chain (``41.111.111.111
#: 1111`` is a card number written oddly), not an address, and stays in the chain.
_JOINED_BEFORE = re.compile(rf"[0-9](?:[^\w]|_){{1,{MAX_GAP}}}$")
_JOINED_AFTER = re.compile(rf"(?:[^\w]|_){{1,{MAX_GAP}}}[0-9]")


def _address(m: re.Match[str]) -> str:
    """A whole-chain dotted quad masked (letters end chains); one joined to more digits kept."""
    text, start, end = m.string, m.start(), m.end()
    if _JOINED_BEFORE.search(text[max(0, start - MAX_GAP - 1) : start]) or _JOINED_AFTER.match(
        text, end
    ):
        return m.group()
    return "i" * (end - start)


#: A date and time as ISO 8601 and Python write them (``2026-12-03 08:56:12.345678+00:00``):
#: a log line's or a report's time, never a card number, although its 20 or more digits make a
#: long chain (a log line would read ``08:56:[digits hidden]``). Years 1900-2199 only, and a
#: real month, day, hour and minute, so a card number written with dashes stays a chain.
_TIMESTAMP = re.compile(
    r"(?<![0-9])(?:19|20|21)[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:[.,][0-9]{1,9})?)?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9])?(?![0-9])"
)


def _chains(text: str) -> Iterator[re.Match[str]]:
    text = normalise_digits(text)
    if "-" in text:
        text = _UUID.sub(lambda m: "u" * len(m.group()), text)  # same length: spans stay true
        if ":" in text:
            text = _TIMESTAMP.sub(lambda m: "t" * len(m.group()), text)
    if "." in text:
        text = _IPV4.sub(_address, text)
    return _CHAIN.finditer(text)


def _candidates(chain: re.Match[str]) -> Iterator[tuple[int, int, str]]:
    """Runs of consecutive groups of ``chain`` that hold 12 to 19 digits: (start, end, digits)."""
    groups = list(_GROUP.finditer(chain.group()))
    base = chain.start()
    for i in range(len(groups)):
        digits = ""
        for j in range(i, len(groups)):
            digits += groups[j].group()
            if len(digits) > _MAX:
                break
            if len(digits) >= _MIN:
                yield base + groups[i].start(), base + groups[j].end(), digits


def _digit_count(chain: re.Match[str]) -> int:
    text = chain.group()
    return sum(text.count(d) for d in "0123456789")


def find_card_number(text: str) -> tuple[int, int] | None:
    """The span ``(start, end)`` of the first card number in ``text``, or None."""
    if not isinstance(text, str):
        return None
    if _few_digits(text):
        return None
    for chain in _chains(text):
        if _digit_count(chain) < _MIN:
            continue
        for start, end, digits in _candidates(chain):
            if luhn_valid(digits):
                return start, end
    return None


def contains_card_number(text: str) -> bool:
    """Whether ``text`` holds a Luhn-valid run of 12 to 19 digits, with any separators."""
    return find_card_number(text) is not None


def screen(field: str, value: str) -> str:
    """``value`` unchanged, or :class:`CardNumberInField` naming ``field`` (never the value)."""
    if contains_card_number(value):
        raise CardNumberInField(field)
    return value


def screen_value(field: str, value: object) -> None:
    """Screen every string (and whole number) inside ``value``: dicts, lists, tuples, sets.

    For structured input such as flow parameters. Mapping keys are screened too; the error
    names ``field`` and the path below it. Iterative, so a deeply nested value cannot exhaust
    the stack.
    """
    stack: list[tuple[str, object]] = [(field, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            screen(path, item)
        elif isinstance(item, int) and not isinstance(item, bool):
            screen(path, str(item))
        elif isinstance(item, Mapping):
            for key, sub in item.items():
                screen(f"{path} key", str(key))
                stack.append((f"{path}.{key}", sub))
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend((f"{path}[{n}]", sub) for n, sub in enumerate(item))


def redact(text: str) -> str:
    """``text`` with every chain of 12 or more digits (any separators, any script) hidden."""
    if not isinstance(text, str):
        text = str(text)
    if _few_digits(text):
        return text
    spans = [chain.span() for chain in _chains(text) if _digit_count(chain) >= _MIN]
    if not spans:
        return text
    out: list[str] = []
    last = 0
    for start, end in spans:
        out.append(text[last:start])
        out.append(_HIDDEN)
        last = end
    out.append(text[last:])
    return "".join(out)
