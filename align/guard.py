"""Train a SecureBreak post-generation safety detector (issue 5), TRL-style.

    # build a dataset first (or use any SecureBreak folder / Hub id)
    mijabench build securebreak --input tests/data/securebreak_annotated.csv \\
        --mapping tests/data/securebreak_mapping.yaml --out build/securebreak
    # recipe (a): sequence classification (Trainer) on the bundled all-MiniLM-L6-v2
    python align/guard.py --config align/configs/guard_classifier.yaml --dataset_name build/securebreak
    # recipe (b): LoRA SFT (TRL SFTTrainer + PEFT) of the embedded SmolLM2, Llama-Guard style
    python align/guard.py --config align/configs/guard_sft.yaml --dataset_name build/securebreak
    # any option overrides the config file, e.g. --max_steps 20 --output_dir runs/guard-x
    # publish (off by default; fails before training when no token is found)
    python align/guard.py --config align/configs/guard_classifier.yaml --push_to_hub true \\
        --hub_model_id you/securebreak-guard

The detector folder (model, tokenizer, mijabench_guard.json, eval_results.json, README.md with the
before/after table) serves as ``mijabench audit --judge guard:FOLDER`` and
``mijabench filter --guard FOLDER``. The logic lives in ``mijabench.train.guard``.
"""

import logging
import sys

from mijabench.errors import MijaError
from mijabench.train.guard import main

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        main()
    except MijaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
