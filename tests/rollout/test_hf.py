"""HFEngine: shapes, seeded determinism, logprobs equal to the trainer's forward pass."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from rlvr_gym.rollout import (  # noqa: E402
    EngineKind,
    HFEngine,
    HFEngineConfig,
    RolloutConfig,
    RolloutEngine,
    SamplingConfig,
    make_rollout_engine,
)
from rlvr_gym.rollout.hf import sample_tokens  # noqa: E402
from tests.rollout.engine_checks import (  # noqa: E402
    assert_n_samples_per_prompt,
    assert_stopped_like_the_reference,
    assert_well_formed,
    max_logprob_gap,
    printable_stop_strings,
)

LOGPROB_TOL = 1e-4
"""Max abs difference allowed between engine and recomputed logprobs (float32; measured ~1e-6)."""

PROMPTS = ["1+1=", "What is 12*7? Answer:", [4 + ord("9")], "x", "<|im_start|>user\n3-1?<|im_end|>\n", "a b c d e f g"]


@pytest.fixture(scope="module")
def engine(tiny_model_dir) -> HFEngine:
    # 6 prompts in chunks of 4: exercises chunking and left padding of unequal prompts
    return HFEngine.from_pretrained(tiny_model_dir, HFEngineConfig(max_batch_size=4))


def test_engine_satisfies_the_protocol(engine):
    assert isinstance(engine, RolloutEngine)


def test_shapes_and_fields(engine):
    sampling = SamplingConfig(max_new_tokens=24, seed=1)
    completions = engine.generate(PROMPTS, sampling)
    assert_well_formed(engine, PROMPTS, completions, sampling.max_new_tokens)
    for c in completions:
        assert c.text == engine.tokenizer.decode(list(c.token_ids), skip_special_tokens=True)


def test_same_seed_same_completions_other_seed_others(engine):
    sampling = SamplingConfig(max_new_tokens=16, seed=7)
    first = engine.generate(PROMPTS, sampling)
    assert engine.generate(PROMPTS, sampling) == first
    assert engine.generate(PROMPTS, SamplingConfig(max_new_tokens=16, seed=8)) != first


def test_logprobs_equal_a_recomputed_forward_pass(engine):
    completions = engine.generate(PROMPTS, SamplingConfig(max_new_tokens=32, seed=2))
    diff = max_logprob_gap(engine.model, completions, engine.pad_id)
    assert diff < LOGPROB_TOL, f"max |engine - recomputed| = {diff:.2e}"


def test_logprobs_are_those_of_the_distribution_drawn_from(engine):
    # temperature 0.7: the trainer's forward at 0.7; with top_k 20 also renormalised over the 20 kept tokens
    for top_k in (0, 20):
        sampling = SamplingConfig(max_new_tokens=16, temperature=0.7, top_k=top_k, seed=3)
        completions = engine.generate(PROMPTS, sampling)
        assert max_logprob_gap(engine.model, completions, engine.pad_id, temperature=0.7, top_k=top_k) < LOGPROB_TOL


def test_n_samples_per_prompt_share_one_prefill_and_equal_repeated_prompts(engine):
    assert_n_samples_per_prompt(engine, PROMPTS, n=3)  # chunks of one prompt (3 rows of the 4 allowed)
    # one chunk each: the KV cache repeated after one prefill gives what prefilling each copy of the prompt gives
    engine = HFEngine(engine.model, engine.tokenizer, HFEngineConfig(max_batch_size=64))
    completions = engine.generate(PROMPTS, SamplingConfig(max_new_tokens=16, temperature=1.0, seed=11, n=3))
    repeated = engine.generate([p for p in PROMPTS for _ in range(3)], SamplingConfig(max_new_tokens=16, temperature=1.0, seed=11))
    assert [c.token_ids for c in completions] == [c.token_ids for c in repeated]
    for a, b in zip(completions, repeated):
        assert a.logprobs == pytest.approx(b.logprobs, abs=1e-5)


def test_greedy_takes_the_argmax_and_top_k_1_is_greedy(engine):
    greedy = engine.generate(PROMPTS, SamplingConfig(max_new_tokens=8, temperature=0.0, seed=None))
    top_1 = engine.generate(PROMPTS, SamplingConfig(max_new_tokens=8, top_k=1, seed=5))
    assert [c.token_ids for c in top_1] == [c.token_ids for c in greedy]
    assert all(lp == 0.0 for c in top_1 for lp in c.logprobs)  # drawn from one token: probability 1
    for c in greedy:
        ids = torch.tensor([list(c.prompt_token_ids) + list(c.token_ids)])
        with torch.no_grad():
            logits = engine.model(ids).logits[0, len(c.prompt_token_ids) - 1 : -1]  # (N, V) predicting each new token
        assert logits.argmax(-1).tolist() == list(c.token_ids)


def test_stop_tokens_end_completions(engine):
    every_token_stops = copy.copy(engine)
    every_token_stops.stop_ids = frozenset(range(engine.model.config.vocab_size))
    for c in every_token_stops.generate(PROMPTS, SamplingConfig(max_new_tokens=8, seed=0)):
        assert len(c.token_ids) == 1 and c.finished


# Greedy on the tiny model repeats the prompt's last character 24 times (seen: "====...", ":::...", "999...",
# "xxx...", "\n\n\n...", "ggg..."), so where each stop string ends is known by hand.
GREEDY_STOP = ("999", ":::", "\n\n", "x" * 30)
GREEDY_STOP_TOKENS = [24, 3, 3, 24, 2, 24]
"""Tokens kept per prompt of PROMPTS: 24 = no stop string (x*30 needs 30 tokens), else the token completing it."""


def test_greedy_stops_where_the_stop_string_completes(engine):
    completions = engine.generate(PROMPTS, SamplingConfig(max_new_tokens=24, temperature=0.0, seed=None, stop=GREEDY_STOP))
    assert [len(c.token_ids) for c in completions] == GREEDY_STOP_TOKENS
    assert [c.finished for c in completions] == [n < 24 for n in GREEDY_STOP_TOKENS]
    assert [c.text for c in completions] == ["=" * 24, "", "", "x" * 24, "", "g" * 24]


def test_sampled_completions_stop_at_the_first_stop_string(engine):
    unstopped = engine.generate(PROMPTS, SamplingConfig(max_new_tokens=32, seed=11))
    stop = printable_stop_strings(unstopped)
    assert stop, "no printable pair in the sampled texts to stop at"
    sampling = SamplingConfig(max_new_tokens=32, seed=11, stop=stop)
    stopped = engine.generate(PROMPTS, sampling)
    assert_well_formed(engine, PROMPTS, stopped, sampling.max_new_tokens, stop)
    assert assert_stopped_like_the_reference(engine, unstopped, stopped, stop) >= len(stop)


def test_a_long_stop_string_far_into_the_response_is_found(engine):
    # a stop string far into a long response: found on the token completing it, text cut before it
    sampling = SamplingConfig(max_new_tokens=200, temperature=0.0, seed=None, stop=("g" * 150,))
    (c,) = engine.generate(["a b c d e f g"], sampling)
    assert len(c.token_ids) == 150 and c.finished and c.text == ""


def test_sampling_config_refuses_empty_stop_strings():
    with pytest.raises(ValueError, match="stop"):
        SamplingConfig(stop=("",))
    with pytest.raises(ValueError, match="stop"):
        SamplingConfig(stop="abc")  # a bare string, not a list of them
    assert SamplingConfig(stop=["a", "b"]).stop == ("a", "b")


def test_load_weights_changes_what_is_sampled(engine, tiny_model_dir):
    from transformers import AutoModelForCausalLM

    new_model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        for p in new_model.parameters():
            p.add_(0.05 * torch.randn_like(p, generator=torch.Generator().manual_seed(0)))
    fresh = HFEngine(copy.deepcopy(new_model), engine.tokenizer)
    local = HFEngine.from_pretrained(tiny_model_dir)
    local.load_weights(new_model.named_parameters())  # tied lm_head is deduplicated and re-tied
    sampling = SamplingConfig(max_new_tokens=16, seed=4)
    assert local.generate(PROMPTS, sampling) == fresh.generate(PROMPTS, sampling)
    with pytest.raises(KeyError):
        local.load_weights({"no.such.weight": torch.zeros(1)})


def test_sample_tokens_top_p_keeps_the_nucleus():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    generator = torch.Generator().manual_seed(0)
    draws = {int(sample_tokens(logits, SamplingConfig(top_p=0.7), generator)[0]) for _ in range(200)}
    assert draws == {0, 1}  # 0.5 < 0.7 needs the 0.3 too; 0.15 and 0.05 never


def test_make_rollout_engine_builds_the_hf_engine(tiny_model_dir):
    engine = make_rollout_engine(tiny_model_dir, RolloutConfig(engine=EngineKind.HF))
    assert isinstance(engine, HFEngine)
    assert RolloutConfig(engine="vllm").engine is EngineKind.VLLM


# --- grouped-query attention without repeating the KV heads (rlvr_gym.rollout.attention)


def test_gqa_attention_gives_the_same_tokens_and_logprobs_as_transformers_sdpa(tiny_model_dir):
    """A random GQA Llama (4 query heads, 2 key/value heads) with the tiny tokenizer: the engine's attention
    (torch's ``enable_gqa`` under the padding mask) against transformers' SDPA (heads repeated), on left-padded
    prompts of different lengths, greedy and sampled: the same tokens and the same logprobs."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from rlvr_gym.rollout.attention import ATTENTION, use_gqa_attention

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, attn_implementation="sdpa",
    )  # fmt: skip
    model = LlamaForCausalLM(config).eval()
    reference = HFEngine(copy.deepcopy(model), tokenizer)
    reference.model.set_attn_implementation("sdpa")  # the engine switched its copy; this one repeats the heads
    ours = HFEngine(model, tokenizer)
    assert ours.model.config._attn_implementation == ATTENTION and reference.model.config._attn_implementation == "sdpa"
    prompts = ["1+1=", "What is 12*7? Answer:", "x", "a b c d e f g h i j k l m n o p"]
    for sampling in (SamplingConfig(max_new_tokens=12, temperature=0.0, seed=None), SamplingConfig(max_new_tokens=12, seed=4, n=2)):
        assert ours.generate(prompts, sampling) == reference.generate(prompts, sampling)
    tiny = HFEngine.from_pretrained(tiny_model_dir)  # 8 query and 8 key/value heads: nothing to switch
    assert not use_gqa_attention(tiny.model) and tiny.model.config._attn_implementation == "sdpa"
