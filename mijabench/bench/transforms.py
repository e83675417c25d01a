"""Representation Shifting transforms: small deterministic encoders of the premise, each with its
decoder, so a test can check ``decode(encode(x)) == x``.

The prompt asks the model to undo the transform and expand the result in plain language; the
group's name still appears in plain text elsewhere in the prompt (the templates carry it).
Structured formats (JSON, XML, YAML) keep the premise in one field and leave the others to fill.
"""

from __future__ import annotations

import base64
import codecs
import json
import re
import string
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from xml.sax.saxutils import escape

import yaml

from mijabench.errors import unknown_name

# Field names of the structured formats, per language (the premise field is the one we fill).
FIELDS = {
    "en": {"root": "brief", "premise": "premise", "slots": ("opening", "point_1", "point_2", "point_3", "closing")},
    "pt": {"root": "roteiro", "premise": "premissa", "slots": ("abertura", "ponto_1", "ponto_2", "ponto_3", "fechamento")},
}

_LEET = str.maketrans("aeiost", "431057")
_UNLEET = str.maketrans("431057", "aeiost")
_ATBASH = str.maketrans(string.ascii_lowercase + string.ascii_uppercase,
                        string.ascii_lowercase[::-1] + string.ascii_uppercase[::-1])
_WORD = re.compile(r"[^\W\d_]+")
_PIG = re.compile(r"([^\W\d_]+)-([^\W\d_]*?)ay(?![^\W\d_])")
_VOWELS = set("aeiouáéíóúâêôãõàüAEIOUÁÉÍÓÚÂÊÔÃÕÀÜ")


def leetspeak(text: str) -> str:
    # Lower-case letters only, so upper case survives; exact inverse on text without 0 1 3 4 5 7.
    return text.translate(_LEET)


def unleetspeak(text: str) -> str:
    return text.translate(_UNLEET)


def to_base64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def from_base64(text: str) -> str:
    return base64.b64decode(text.encode("ascii")).decode("utf-8")


def rot13(text: str) -> str:
    return codecs.encode(text, "rot13")  # its own inverse; accented letters pass through


def atbash(text: str) -> str:
    """The letter cipher: a<->z, b<->y, ... (its own inverse)."""
    return text.translate(_ATBASH)


def reverse_words(text: str) -> str:
    return " ".join(reversed(text.split(" ")))  # its own inverse, spacing kept


def _pig_word(match: re.Match) -> str:
    word = match.group(0)
    cut = next((i for i, ch in enumerate(word) if ch in _VOWELS), 0)
    # "group" -> "oup-gray", "are" -> "are-ay": the hyphen keeps the consonant cluster recoverable.
    return f"{word[cut:]}-{word[:cut]}ay"


def pig_latin(text: str) -> str:
    return _WORD.sub(_pig_word, text)


def unpig_latin(text: str) -> str:
    return _PIG.sub(lambda m: m.group(2) + m.group(1), text)


def chain(text: str) -> str:
    """Translate-then-back chain: Pig Latin first, then the word order reversed."""
    return reverse_words(pig_latin(text))


def unchain(text: str) -> str:
    return unpig_latin(reverse_words(text))


def to_json(text: str, language: str = "en") -> str:
    f = FIELDS[language]
    doc = {f["premise"]: text, **{slot: "" for slot in f["slots"]}}
    return json.dumps(doc, ensure_ascii=False, indent=2)


def from_json(text: str, language: str = "en") -> str:
    return json.loads(text)[FIELDS[language]["premise"]]


def to_xml(text: str, language: str = "en") -> str:
    f = FIELDS[language]
    slots = "".join(f"\n  <{slot}></{slot}>" for slot in f["slots"])
    return f"<{f['root']}>\n  <{f['premise']}>{escape(text)}</{f['premise']}>{slots}\n</{f['root']}>"


def from_xml(text: str, language: str = "en") -> str:
    return ET.fromstring(text).find(FIELDS[language]["premise"]).text or ""


def to_yaml(text: str, language: str = "en") -> str:
    f = FIELDS[language]
    # A JSON string is a valid YAML double-quoted scalar: one line whatever its length (a wrap
    # point that moved with the group's name would break the counterfactual invariant), and ~50x
    # faster than yaml.safe_dump at paper scale.
    lines = [f"{f['premise']}: {json.dumps(text, ensure_ascii=False)}"]
    return "\n".join(lines + [f"{slot}: ''" for slot in f["slots"]])


def from_yaml(text: str, language: str = "en") -> str:
    return yaml.safe_load(text)[FIELDS[language]["premise"]]


@dataclass(frozen=True)
class Transform:
    id: str
    encode: Callable[[str, str], str]  # (text, language) -> payload
    decode: Callable[[str, str], str]  # (payload, language) -> text


def _plain(func: Callable[[str], str]) -> Callable[[str, str], str]:
    return lambda text, language="en": func(text)


TRANSFORMS = {t.id: t for t in (
    Transform("leetspeak", _plain(leetspeak), _plain(unleetspeak)),
    Transform("base64", _plain(to_base64), _plain(from_base64)),
    Transform("rot13", _plain(rot13), _plain(rot13)),
    Transform("letter_cipher", _plain(atbash), _plain(atbash)),
    Transform("pig_latin", _plain(pig_latin), _plain(unpig_latin)),
    Transform("reversed_words", _plain(reverse_words), _plain(reverse_words)),
    Transform("translate_chain", _plain(chain), _plain(unchain)),
    Transform("json", to_json, from_json),
    Transform("xml", to_xml, from_xml),
    Transform("yaml", to_yaml, from_yaml),
)}


def transform(transform_id: str, where: str = "") -> Transform:
    try:
        return TRANSFORMS[transform_id]
    except KeyError:
        raise unknown_name("transform", transform_id, list(TRANSFORMS), where) from None


def encode(transform_id: str, text: str, language: str = "en") -> str:
    return transform(transform_id).encode(text, language)


def decode(transform_id: str, payload: str, language: str = "en") -> str:
    return transform(transform_id).decode(payload, language)
