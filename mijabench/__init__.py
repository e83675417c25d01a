"""mijabench: per-group jailbreak safety audits (MiJaBench) and the tools to fix the gaps.

The Python API (see :mod:`mijabench.api`)::

    from mijabench import build_benchmark, run_audit, judge_responses, load_run, defense_rates, compare

The names load on first use, so ``import mijabench`` and ``mijabench --help`` stay fast.
"""

__version__ = "0.1.0"

__all__ = ["build_benchmark", "run_audit", "judge_responses", "load_run", "defense_rates", "compare",
           "__version__"]
_API = frozenset(__all__) - {"__version__"}


def __getattr__(name: str):
    if name in _API:
        from mijabench import api
        value = getattr(api, name)
        globals()[name] = value  # later lookups skip this hook
        return value
    raise AttributeError(f"module 'mijabench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _API)
