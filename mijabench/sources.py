"""One rule for "is this name a Hub repo id or a local path?".

Models, datasets and training records name their source the same way: a local file or folder,
or a Hub repo id ``owner/name``. The rule, in order:

1. a name that exists on disk is local (a folder ``runs/model`` beats the Hub id ``runs/model``);
2. a name that looks like a path is local even when missing (it starts with ``.``, ``/`` or
   ``~``, has a backslash, or has more than one ``/``), so a typo is reported as a missing
   folder instead of becoming a network download;
3. ``owner/name`` made of letters, digits, ``-``, ``_`` and ``.`` is a Hub id;
4. anything else (e.g. a bare ``gpt2``) is neither: callers report it. Bare legacy ids are not
   guessed, because a bare word is far more often a mistyped folder.

Standard library only: the lowest layer may use it, and nothing here touches the network.
"""

from __future__ import annotations

import re
from pathlib import Path

# The Hub's own repo-id rule (huggingface_hub.utils.validate_repo_id), for ids with an owner.
_HUB_ID = re.compile(r"\w(?:[\w.-]*\w)?/\w(?:[\w.-]*\w)?")


def local_path(name: str | Path | None) -> Path | None:
    """The expanded path when ``name`` exists on disk (file or folder), else None."""
    if name is None or not str(name).strip():
        return None
    path = Path(str(name).strip()).expanduser()
    return path if path.exists() else None


def looks_like_path(name: str | Path | None) -> bool:
    """True when ``name`` can only mean a local path, whether or not it exists."""
    if name is None or not str(name).strip():
        return False
    text = str(name).strip()
    return (isinstance(name, Path) or text.startswith((".", "/", "~")) or "\\" in text
            or text.count("/") > 1 or local_path(text) is not None)


def hub_id(name: str | Path | None) -> str | None:
    """``name`` when it is a Hub repo id (``owner/name``, nothing on disk by that name), else None.

    Cards and training records name a Hub id; a local path is named by its folder only.
    """
    if name is None or looks_like_path(name):
        return None
    text = str(name).strip()
    if not _HUB_ID.fullmatch(text) or "--" in text or ".." in text:
        return None
    return text
