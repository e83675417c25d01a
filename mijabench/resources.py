"""Where the top-level deliverable folders are: in a source checkout, or inside the wheel.

``cards/``, ``eval/``, ``spaces/``, ``dataset_builders/`` and ``align/`` live at the top of the
repository (the Hub-facing layout). The wheel carries copies of them under
``mijabench/_project/`` (hatchling ``force-include`` in pyproject.toml), so an installed
mijabench can build datasets with their cards and release the metric and the Space.
"""

from __future__ import annotations

from pathlib import Path

from mijabench.errors import MijaError

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED = PACKAGE_DIR / "_project"  # present only in an installed wheel
CHECKOUT = PACKAGE_DIR.parent       # the repository root when running from a checkout
FOLDERS = ("cards", "eval", "spaces", "dataset_builders", "align")


def roots() -> list[Path]:
    """Where to look, in order: the wheel's copies, then the checkout. In an installed wheel
    ``CHECKOUT`` is site-packages, whose ``spaces``/``eval``/... are other packages, so it only
    counts when it is a source checkout (it holds this project's pyproject.toml)."""
    found = [BUNDLED] if BUNDLED.is_dir() else []
    if (CHECKOUT / "pyproject.toml").is_file():
        found.append(CHECKOUT)
    return found


def project_folder(name: str) -> Path:
    """The deliverable folder ``name`` (e.g. ``cards``, ``eval/selective_safety``)."""
    top = name.split("/")[0]
    if top not in FOLDERS:
        raise ValueError(f"{name}: not one of the deliverable folders {', '.join(FOLDERS)}")
    for root in roots():
        path = root / name
        if path.exists():
            return path
    raise MijaError(f"{name}: not found in this mijabench installation ({BUNDLED} or {CHECKOUT}); "
                    "reinstall mijabench from its wheel or run from a source checkout")


def metric_path() -> Path:
    """The ``selective_safety`` evaluate module folder, for ``evaluate.load(str(metric_path()))``."""
    return project_folder("eval/selective_safety")


def space_path() -> Path:
    """The probe Space folder (``app.py`` + README)."""
    return project_folder("spaces/probe")
