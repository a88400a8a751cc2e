"""Evaluation generation: the benchmark's stop strings reach the engine, chunks and a progress bar, the stats."""

from __future__ import annotations

import importlib.util

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'rlvr-gym[train]')")

from rlvr_gym.evals.generate import GenerationStats, generate_with_engine, generate_with_stats  # noqa: E402
from rlvr_gym.rollout import EngineKind, HFEngine, SamplingConfig  # noqa: E402

# Greedy on the tiny model repeats the prompt's last character (tests/rollout/test_hf.py), so by hand:
PROMPTS = ["1+1=", "x", "a b c d e f g", "<|im_start|>user\n3-1?<|im_end|>\n"]
STOP = ("\n\n", "ggg")
EXPECTED = [["=" * 16], ["x" * 16], [""], [""]]
"""16 tokens, no stop string; 16, none; 3 tokens, "ggg" completes; 2 tokens, "\\n\\n" completes."""


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    return HFEngine.from_pretrained(tiny_model_dir)


def test_stop_strings_end_generation_in_the_engine(engine):
    texts, stats = generate_with_stats(engine, engine.tokenizer, PROMPTS, max_new_tokens=16, stop=STOP, chunk=16)
    assert texts == EXPECTED
    assert (stats.items, stats.completions, stats.tokens, stats.finished) == (4, 4, 16 + 16 + 3 + 2, 2)
    # the same text as generating to the budget and cutting afterwards (the old way), for fewer tokens
    free = engine.generate(PROMPTS, SamplingConfig(max_new_tokens=16, temperature=0.0, seed=None))
    assert sum(len(c.token_ids) for c in free) == 64
    assert [[c.text.split("\n\n")[0].split("ggg")[0]] for c in free] == EXPECTED


def test_chunks_change_nothing_and_the_bar_goes_to_stderr(engine, capsys):
    texts, stats = generate_with_stats(
        engine, engine.tokenizer, PROMPTS, n=2, temperature=1.0, max_new_tokens=12, stop=STOP, seed=3, progress="tiny", chunk=2
    )
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "tiny" in captured.err and "4/4" in captured.err and "tok/s" in captured.err
    assert stats.completions == 8 and all(len(row) == 2 for row in texts)
    # sampled rows: the chunk starting at row r is seeded seed + r, so the same call gives the same texts; only
    # greedy is the same for every chunk size (one HF call of 8 rows draws them all from seed + 0)
    again, _ = generate_with_stats(
        engine, engine.tokenizer, PROMPTS, n=2, temperature=1.0, max_new_tokens=12, stop=STOP, seed=3, chunk=2
    )
    assert again == texts
    greedy = [generate_with_engine(engine, engine.tokenizer, PROMPTS, max_new_tokens=16, stop=STOP)]
    chunked, _ = generate_with_stats(engine, engine.tokenizer, PROMPTS, max_new_tokens=16, stop=STOP, chunk=1)
    assert greedy == [chunked] == [EXPECTED]


def test_the_summary_line():
    stats = GenerationStats(items=40, completions=40, tokens=3211, finished=38, seconds=52.0)
    assert stats.line("gsm8k") == "gsm8k: 40 items x 1, 3,211 tokens in 52.0 s (61.8 tok/s); 38/40 ended at EOS or a stop string"
    assert GenerationStats(0, 0, 0, 0, 0.0).tokens_per_s == 0.0


# --- which engine `auto` picks for an evaluation job


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU rule: with a CUDA GPU auto is vLLM whatever the job")
def test_auto_picks_vllm_on_cpu_only_for_a_large_job():
    from rlvr_gym.evals.generate import AUTO_VLLM_CPU_TOKENS, resolve_backend

    vllm = EngineKind.VLLM if importlib.util.find_spec("vllm") is not None else EngineKind.HF
    assert resolve_backend("auto") is EngineKind.HF  # no budget given: the trainer's rule
    assert resolve_backend("auto", 16 * 128) is EngineKind.HF  # 16 IFEval prompts x 128 tokens: 31 s vs 139 s
    assert resolve_backend("auto", AUTO_VLLM_CPU_TOKENS - 1) is EngineKind.HF
    assert resolve_backend("auto", AUTO_VLLM_CPU_TOKENS) is vllm
    assert resolve_backend("auto", 40 * 512) is vllm  # 40 GSM8K items x 512 tokens: 579 s vs 126 s
    assert resolve_backend("hf", 10**9) is EngineKind.HF  # an explicit choice stands
    with pytest.raises(ValueError, match="unknown backend 'tgi'"):
        resolve_backend("tgi", 10)


def test_vllm_request_progress_moves_the_callers_bar_one_item_per_request():
    """What vLLM's offline loop calls on its ``use_tqdm`` bar (``vllm/entrypoints/common/offline.py``: ``postfix``
    set, then ``update(n)`` with the request's n samples, ``format_dict["elapsed"]``, ``refresh``, ``close``),
    forwarded to the evaluation's own bar, which stays open for the next chunk."""
    import io

    from tqdm.auto import tqdm

    from rlvr_gym.rollout.vllm import RequestProgress

    with tqdm(total=5, file=io.StringIO()) as bar:
        make = RequestProgress.factory(bar)
        assert make([1, 2], desc="Adding requests") == [1, 2]  # vLLM wraps the requests it adds too
        progress = make(total=5, desc="Processed prompts", dynamic_ncols=True, postfix="")
        assert progress.format_dict["elapsed"] > 0
        for _ in range(3):
            progress.postfix = "est. speed input: 10.00 toks/s, output: 5.00 toks/s"
            progress.update(4)  # a request with 4 samples is one item
        progress.refresh()
        progress.close()
        assert (progress.n, bar.n) == (3, 3)
        assert bar.postfix == "vLLM est. speed input: 10.00 toks/s, output: 5.00 toks/s"
        assert "3/5" in bar.fp.getvalue()
        bar.update(2)  # still open after close()
        assert bar.n == 5
