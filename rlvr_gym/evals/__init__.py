"""Evaluation: Tülu 3 style benchmarks (GSM8K 8-shot, MATH 4-shot, IFEval), pass@k, reports.

- `rlvr_gym.evals.prompts`: settings per benchmark, the exemplar rule, exact prompts;
- `rlvr_gym.evals.metrics`: unbiased pass@k, IFEval's prompt/instruction-level accuracies;
- `rlvr_gym.evals.harness`: scoring, per-item JSONL + summary.json/summary.md, run comparison;
- `rlvr_gym.evals.generate`: responses from a checkpoint through the trainer's rollout engines
  (imports torch; not imported here);
- `rlvr_gym.evals.run`: what ``rlvr-gym eval`` does.

Importing this package pulls in no torch.
"""

from .harness import TaskReport, compare_runs, load_eval_items, load_responses, read_summary, render_summary, score_responses, write_run
from .metrics import ifeval_accuracies, mean_pass_at_k, pass_at_k
from .prompts import EVAL_SETTINGS, EXEMPLAR_SEED, EvalSetting, Exemplar, build_prompt, draw_exemplars, setting_for

__all__ = [
    "EVAL_SETTINGS",
    "EXEMPLAR_SEED",
    "EvalSetting",
    "Exemplar",
    "TaskReport",
    "build_prompt",
    "compare_runs",
    "draw_exemplars",
    "ifeval_accuracies",
    "load_eval_items",
    "load_responses",
    "mean_pass_at_k",
    "pass_at_k",
    "read_summary",
    "render_summary",
    "score_responses",
    "setting_for",
    "write_run",
]
