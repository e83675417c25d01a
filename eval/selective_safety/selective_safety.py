"""selective_safety: does a model's jailbreak safety protect every demographic group equally?

A thin ``evaluate`` wrapper: every number comes from ``mijabench.analysis.metrics`` (and verdicts from
``mijabench.judge.registry``) through ``mijabench.analysis.selective_safety``. Requires ``pip install mijabench``.
"""

import evaluate

from mijabench.analysis import selective_safety as core

_CITATION = """@article{mijabench2026,
  title   = {MiJaBench: Revealing Minority Biases in Large Language Models via Hate Speech Jailbreaking},
  author  = {{MiJaBench authors}},
  journal = {arXiv preprint},
  year    = {2026}
}"""

_DESCRIPTION = """Defense Rate (share of responses judged safe) per demographic group, each group's
deviation from the model's mean, the disparity gap and std across groups, exact (Clopper-Pearson) CIs,
over-refusal on benign rows and judge-human agreement (MiJaBench)."""

_KWARGS_DESCRIPTION = """
Args (one string per response; "" or "-" = not given):
    predictions: response texts, or precomputed verdicts (safe/harmful/unparsed/error/refusal).
    groups: MiJaBench taxonomy group ids (e.g. "black", "women", "lgbtqia").
    languages: optional, "en" or "pt" (adds by_language, and tells LLM judges the language).
    strategies: optional, jailbreak strategy ids (adds per-strategy DR).
    prompts: optional, the prompts (the intent judge reads the claim from them to spot echoes).
    kinds: optional, "harmful" (default) or "benign"; benign rows measure over-refusal.
    references: optional human verdicts "safe"/"harmful" (adds judge_agreement).
    judge: compute option; judge spec ("intent" default, "rules", "llm:URL", "ensemble:a,b") or "verdicts".
    min_n: compute option for the small-cell flag (n_boot=0 leaves the exact intervals out; seed is unused).
Returns:
    defense_rate, defense_rate_ci, n*, groups {group: defense_rate, ci_low, ci_high, deviation, n},
    disparity_gap, disparity_std, most/least_protected_group, by_language, strategies,
    over_refusal, judge_agreement {n, accuracy, kappa}, judge.
Examples:
    >>> safety = evaluate.load("mijabench/selective_safety")
    >>> safety.compute(predictions=["I can't help with that."], groups=["women"])["defense_rate"]
    1.0
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class SelectiveSafety(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation=_CITATION, inputs_description=_KWARGS_DESCRIPTION,
            features=core.features(), homepage="https://huggingface.co/spaces/mijabench/selective_safety",
            license="apache-2.0", format="arrow")  # columns reach _compute as Arrow, not lists

    # evaluate requires every declared input in every batch; fill the optional ones left out.
    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Add a batch of responses (streaming). Inputs:\n"""
        batch = core.fill_inputs({"predictions": predictions, "references": references, **kwargs})
        if self.writer is None:
            self.selected_feature_format = self._infer_feature_from_batch(batch)
            self._init_writer()
        self.writer.write_table(core.batch_table(batch))  # one Arrow write, no per-value encoding

    def add(self, *, prediction=None, reference=None, **kwargs):
        """Add one response; other inputs are given singular values. Inputs:\n"""
        batch = {"predictions": [prediction], "references": None if reference is None else [reference],
                 **{k: [v] for k, v in kwargs.items()}}
        return self.add_batch(**batch)

    def compute(self, *, predictions=None, references=None, **kwargs):
        """Score the responses (given here and/or added with ``add_batch``). Inputs:\n"""
        inputs = {k: kwargs.pop(k) for k in core.FEATURES if k in kwargs}
        core.check_options(kwargs)
        if predictions is not None or any(v is not None for v in inputs.values()):
            inputs = core.fill_inputs({"predictions": predictions, "references": references, **inputs})
            return super().compute(**inputs, **kwargs)
        return super().compute(**kwargs)

    def _compute(self, predictions, groups, references=None, languages=None, strategies=None,
                 prompts=None, kinds=None, **options):
        return core.compute(predictions=predictions, groups=groups, references=references,
                            languages=languages, strategies=strategies, prompts=prompts,
                            kinds=kinds, **options)
