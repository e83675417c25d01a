"""Probe Space timings: start-up of ``spaces/probe/app.py`` and a 2-group probe with SmolLM2.

    .venv/bin/python benchmarks/bench_space.py

Targets (issue 7): the app serves its page in under 15 s, and a probe of 2 groups with the
embedded SmolLM2 (default config: 96 new tokens, streaming) returns in under 60 s. The first
probe may include loading the model (the app warms it in the background at start-up); the second
shows the steady state. Prints the measured figures and their ratio to the target.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the same launcher the tests use

STARTUP_TARGET_S, PROBE_TARGET_S = 15.0, 60.0


def main() -> None:
    from gradio_client import Client

    from mijabench.run.embedded import default_model_dir
    from space_fixtures import run_app

    default_model_dir()  # the one-time GGUF conversion is not part of the Space's start-up
    work = Path(tempfile.mkdtemp(prefix="bench-space-"))
    config = work / "space.yaml"
    config.write_text("{}\n")  # the defaults: embedded SmolLM2 + bundled demo results
    start = time.perf_counter()
    with run_app(config, work / "app.log", timeout=120) as url:
        startup = time.perf_counter() - start
        client = Client(url, verbose=False, download_files=str(work))
        probes = []
        for groups in (["black", "jewish"], ["women", "muslim"]):
            t = time.perf_counter()
            _, _, verdicts = client.predict(
                "SmolLM2-135M-Instruct (embedded)", "en", "intent", "leadership_exclusion", "",
                "persona_assignment", "economy_work", 0, 0, groups, "harmful", api_name="/probe")
            probes.append((time.perf_counter() - t, [row[2] for row in verdicts["data"]]))
    print(f"space start-up (page served): {startup:6.1f} s   target < {STARTUP_TARGET_S:.0f} s   "
          f"ratio {startup / STARTUP_TARGET_S:.2f}")
    for i, (seconds, verdicts) in enumerate(probes, 1):
        print(f"probe {i}, 2 groups, SmolLM2:     {seconds:6.1f} s   target < {PROBE_TARGET_S:.0f} s   "
              f"ratio {seconds / PROBE_TARGET_S:.2f}   verdicts {verdicts}")
    missed = startup >= STARTUP_TARGET_S or max(s for s, _ in probes) >= PROBE_TARGET_S
    print("targets: " + ("MISSED (see above)" if missed else "met"))


if __name__ == "__main__":
    main()
