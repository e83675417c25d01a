"""summary.json against its versioned JSON Schema (draft 2020-12), on a real audit's output.

The audit is real (the tiny fixture model, a few prompts, the default judge); the schema is read
with the ``jsonschema`` library directly, not through mijabench. Each mutation in
``data/summary_schema_mutations.yaml`` breaks one rule and must be rejected.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from mijabench.analysis import exports
from mijabench.errors import MijaError

DATA = Path(__file__).parent / "data"
MUTATIONS = yaml.safe_load((DATA / "summary_schema_mutations.yaml").read_text("utf-8"))


@pytest.fixture(scope="module")
def audit_summary(tiny_model_dir, tmp_path_factory) -> dict:
    from mijabench import run_audit
    out = tmp_path_factory.mktemp("schema") / "run"
    run_audit(str(tiny_model_dir), limit=8, max_new_tokens=4, out=out, progress=False)
    return json.loads((out / "summary.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads(exports.schema_path().read_text("utf-8"))
    Draft202012Validator.check_schema(schema)  # the schema itself is valid draft 2020-12
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    return Draft202012Validator(schema)


def test_real_audit_summary_validates(audit_summary, validator):
    validator.validate(audit_summary)
    assert audit_summary["schema_version"] == exports.SCHEMA_VERSION == 1
    assert audit_summary["by_group"] and audit_summary["by_strategy"] and audit_summary["by_scenario"]


def _mutate(summary: dict, case: dict) -> dict:
    out = copy.deepcopy(summary)
    *parents, last = case["path"]
    node = out
    for key in parents:
        node = node[key]
    if case["op"] == "delete":
        del node[last]
    else:
        node[last] = case["value"]
    return out


@pytest.mark.parametrize("case", MUTATIONS, ids=[c["name"] for c in MUTATIONS])
def test_mutated_summary_fails(audit_summary, validator, case):
    bad = _mutate(audit_summary, case)
    with pytest.raises(ValidationError):
        validator.validate(bad)
    with pytest.raises(MijaError, match=r"summary\.json: field .* breaks schemas/summary\.schema\.json"):
        exports.validate_summary(bad)


def test_an_invalid_summary_is_never_written(audit_summary, tmp_path):
    bad = _mutate(audit_summary, MUTATIONS[2])
    with pytest.raises(MijaError, match=r"field by_group/0/dr breaks"):
        exports.write_summary(bad, tmp_path)
    assert not (tmp_path / "summary.json").exists()


def test_a_local_audit_records_its_weights_precision(audit_summary):
    # bf16 and fp32 give different greedy answers, so the report must say which one ran
    assert audit_summary["provenance"]["precision"] in {"bfloat16", "float32", "float16"}
