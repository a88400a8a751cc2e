"""``rlvr-gym plot RUN_DIR``: reward, KL, response length and held-out accuracy curves in one PNG."""

from __future__ import annotations

from pathlib import Path

from .tracking import read_metrics

__all__ = ["DPO_PANELS", "NO_REFERENCE_PANEL", "ON_POLICY_PANEL", "PANELS", "choose_panels", "plot_run"]

PANELS: tuple[tuple[str, str], ...] = (
    ("rewards/mean", "reward (sequence score)"),
    ("kl/ref", "KL(policy || ref) per sequence"),
    ("response/length", "response length (tokens)"),
    ("eval/accuracy", "held-out accuracy (greedy)"),
)
"""Metric and title of each panel of a PPO run, left to right, top to bottom."""

NO_REFERENCE_PANEL = ("policy/approx_kl", "approx. KL(old || new) per update (no reference: beta 0)")
"""Replaces the KL panel when a run has no reference model (``kl/ref`` never logged)."""

ON_POLICY_PANEL = ("verifier/correct", "sampled accuracy (no reference, on-policy)")
"""Replaces it when that KL is 0 throughout too: one update per rollout batch, so old and new policy are one."""

DPO_PANELS: tuple[tuple[str, str], ...] = (
    ("loss/dpo", "DPO loss"),
    ("rewards/margin", "implicit reward margin (chosen - rejected)"),
    ("rewards/accuracy", "pair accuracy (chosen reward > rejected)"),
    ("eval/accuracy", "held-out accuracy (greedy)"),
)
"""The panels of a DPO run (chosen when its metrics hold ``loss/dpo`` or ``rewards/margin``)."""


def choose_panels(records: list[dict]) -> tuple[tuple[str, str], ...]:
    """The four panels for a run's records: `DPO_PANELS` for a DPO run, else `PANELS` with the KL panel
    replaced when there is no reference (`NO_REFERENCE_PANEL`, or `ON_POLICY_PANEL` when that KL is 0 too)."""
    if any("loss/dpo" in r or "rewards/margin" in r for r in records):
        return DPO_PANELS
    if any("kl/ref" in r for r in records):
        return PANELS
    replacement = NO_REFERENCE_PANEL if any(r.get("policy/approx_kl") for r in records) else ON_POLICY_PANEL
    return tuple(replacement if name == "kl/ref" else (name, title) for name, title in PANELS)


def plot_run(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Render `PANELS` (a DPO run: `DPO_PANELS`) from ``RUN_DIR/metrics.jsonl`` to ``out`` (default
    ``RUN_DIR/curves.png``); returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    records = read_metrics(run_dir)
    if not records:
        raise ValueError(f"{run_dir / 'metrics.jsonl'} holds no records yet")
    out = Path(out) if out is not None else run_dir / "curves.png"
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), constrained_layout=True)
    for ax, (name, title) in zip(axes.flat, choose_panels(records)):
        points = [(r["step"], r[name]) for r in records if r.get(name) is not None]
        if points:
            steps, values = zip(*points)
            ax.plot(steps, values, marker="o" if len(points) < 20 else None, markersize=3)
        else:
            ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.suptitle(str(run_dir))
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
