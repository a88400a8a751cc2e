"""OpenRLHF v0.11.2's own client (``openrlhf/utils/agent.py``, ``SingleTurnAgentExecutor``) against our reward.

The executor runs for real: it tokenizes the prompt, truncates it from the left, decodes prompt +
response with special tokens kept and fetches the reward (``_fetch_rewards_via_func`` for the ``.py``
file, ``_fetch_rewards_via_http`` for ``rlvr-gym serve``). Two stand-ins only: `ScriptedEngine` for
vLLM (it returns a fixed response) and `experience_info`, our copy of the step that follows in
``openrlhf/trainer/ppo_utils/samples_generator.py`` (``_process_response_into_experience``:
``torch.tensor([value])`` for the reward, the score and every ``extra_logs`` value), because that
module imports Ray.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest

from rlvr_gym.envs.adapters.openrlhf import (
    REWARD_FUNC_FILE,
    Isolation,
    IsolationMethod,
    isolate_response,
)

from .peers import load_peer_module

ALPHA = 10.0
SECRET = "Zt3-secret_path-for-tests-0123"
REASONS = ("correct", "wrong_answer", "no_answer", "invalid_response", "invalid_ground_truth", "timeout", "error")

# ------------------------------------------------------------------ isolate_response, by hand
CHATML = "<|im_start|>user\nWhat is 0 + 7? Answer after ####.<|im_end|>\n<|im_start|>assistant\n"
LLAMA3 = "<|start_header_id|>user<|end_header_id|>\n\nWhat is 0 + 7?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
PLAIN = "Question: What is 0 + 7? Think, then answer after ####.\nAnswer:"
ISOLATION_CASES = [
    # the query starts with the whole prompt; end-of-turn tokens are removed
    (CHATML + "#### 7<|im_end|>", CHATML, Isolation("#### 7", IsolationMethod.PREFIX)),
    (PLAIN + " #### 7</s>", PLAIN, Isolation(" #### 7", IsolationMethod.PREFIX)),
    (LLAMA3 + "#### 7<|eot_id|>", LLAMA3, Isolation("#### 7", IsolationMethod.PREFIX)),
    # left-truncated prompt: the query starts with a suffix of the prompt (16+ characters)
    (PLAIN[-30:] + " #### 7", PLAIN, Isolation(" #### 7", IsolationMethod.PROMPT_TAIL)),
    (CHATML[-40:] + "I am not sure.<|im_end|>", CHATML, Isolation("I am not sure.", IsolationMethod.PROMPT_TAIL)),
    # ... whose first characters decoded differently (a token cut inside a UTF-8 character)
    ("\ufffd\ufffd" + PLAIN[-30:] + " #### 7", PLAIN, Isolation(" #### 7", IsolationMethod.PROMPT_TAIL)),
    # ... the response repeating the prompt's end: the repeat is the response's own text, kept
    (PLAIN[-30:] + PLAIN[-20:] + " #### 7", PLAIN, Isolation(PLAIN[-20:] + " #### 7", IsolationMethod.PROMPT_TAIL)),
    # the decoded head differs from the prompt (spaces re-decoded): the assistant marker the prompt ends with
    (CHATML.replace("0 + 7?", "0 + 7 ?") + "#### 7<|im_end|>", CHATML, Isolation("#### 7", IsolationMethod.ASSISTANT_MARKER)),
    (LLAMA3.replace("0 + 7", "0+7") + "#### 7", LLAMA3, Isolation("#### 7", IsolationMethod.ASSISTANT_MARKER)),
    ("d_header_id|>\n\n#### 7", LLAMA3, Isolation(None, IsolationMethod.NONE, "*")),  # marker cut: not found
    # the case: 17 characters of the prompt kept, found; "7" (the prompt's) is not verified
    ("0 + 7?\nassistant\nI am not sure.", "What is 0 + 7?\nassistant\n", Isolation("I am not sure.", IsolationMethod.PROMPT_TAIL)),
    # cannot be isolated: score 0, never the prompt's text ("7" is in the prompt)
    ("7?\nassistant\nI am not sure.", "What is 0 + 7?\nassistant\n", Isolation(None, IsolationMethod.NONE, "*")),
    ("####.\nAnswer: 3", PLAIN, Isolation(None, IsolationMethod.NONE, "*")),
    ("#### 7", "", Isolation(None, IsolationMethod.NONE, "*")),
]


@pytest.mark.parametrize("query,prompt,expected", ISOLATION_CASES)
def test_isolate_response(query, prompt, expected):
    got = isolate_response(query, prompt)
    assert (got.response, got.method) == (expected.response, expected.method)
    if expected.method is IsolationMethod.NONE:
        assert got.error.startswith(("response not isolated", "the prompt is empty"))


# ------------------------------------------------------------------ OpenRLHF's executor, for real
class ScriptedEngine:
    """Stands in for vLLM's engine in ``SingleTurnAgentExecutor.execute``: its "generation" is a fixed text."""

    def __init__(self, tokenizer, response: str):
        self.token_ids = tokenizer(text=response, add_special_tokens=False)["input_ids"]
        self.response = response

    async def generate(self, prompt_token_ids, sampling_params, multi_modal_data=None):
        assert len(prompt_token_ids) + len(self.token_ids) <= 4096
        output = SimpleNamespace(token_ids=list(self.token_ids), text=self.response, finish_reason="stop", logprobs=None)
        return SimpleNamespace(outputs=[output])


def experience_info(output: dict) -> dict:
    """Our copy of samples_generator.py ``_process_response_into_experience``'s info dict (v0.11.2)."""
    import torch

    info = {}
    if output["reward"] is not None:
        info["reward"] = torch.tensor([output["reward"]])
    if output["scores"] is not None:
        info["score"] = torch.tensor([output["scores"]])
    for key, value in output.get("extra_logs", {}).items():
        if isinstance(value, torch.Tensor):
            value = value.flatten()[0].item()
        info[key] = torch.tensor([value])
    return info


def chat_prompt(tokenizer, question: str) -> str:
    return tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True)


def run_executor(executor, tokenizer, samples):
    """``execute`` for each ``(prompt, label, response, kept)`` at once, as OpenRLHF's rollout does.

    ``max_length`` is ``kept + max_tokens``, so the executor keeps the prompt's last ``kept`` tokens (bytes).
    """

    async def main():
        jobs = []
        for prompt, label, response, kept in samples:
            params = SimpleNamespace(max_tokens=64, logprobs=None)
            jobs.append(executor.execute(prompt, label, params, kept + 64, tokenizer, ScriptedEngine(tokenizer, response)))
        return await asyncio.gather(*jobs)

    return asyncio.run(main())


@pytest.fixture
def agent(monkeypatch):
    """OpenRLHF's openrlhf/utils/agent.py, loaded on its own (see peers.py)."""
    pytest.importorskip("torch", reason="torch is not installed (pip install 'rlvr-gym[train]')")
    pytest.importorskip("aiohttp", reason="aiohttp is not installed (pip install 'rlvr-gym[dev]')")
    return load_peer_module(monkeypatch, "openrlhf", "utils.agent")


@pytest.fixture(scope="module")
def tokenizer():
    pytest.importorskip("transformers", reason="transformers is not installed")
    from rlvr_gym.trainers.tiny import build_tiny_tokenizer

    return build_tiny_tokenizer()  # byte-level ChatML: one token per UTF-8 byte


def hacking_samples(tokenizer):
    """(prompt, label, response, kept prompt tokens, expected reward, expected reason): the prompt holds the answer 7."""
    chat = chat_prompt(tokenizer, "Add the numbers carefully and give the result after ####. What is 0 + 7?")
    plain = "Some context. " * 8 + "What is 0 + 7? Answer: "
    return [
        # whole prompt kept
        (chat, "7", "#### 7<|im_end|>", 4096, ALPHA, "correct"),
        (chat, "7", "I am not sure.<|im_end|>", 4096, 0.0, "no_answer"),
        # prompt truncated from the left by the executor: its tail is found, only the response is verified
        (chat, "7", "I am not sure.<|im_end|>", 40, 0.0, "no_answer"),
        (chat, "7", "#### 7<|im_end|>", 40, ALPHA, "correct"),
        (plain, "7", "I am not sure.", 40, 0.0, "no_answer"),
        # only " 7? Answer: " kept (under the 16 characters searched, no chat marker): not isolated, 0, counted.
        # Verifying the whole query, as we used to, read the prompt's 7 and paid alpha.
        (plain, "7", "I am not sure.", 12, 0.0, "invalid_response"),
    ]


def check_answer(output, expected_reward, expected_reason):
    info = experience_info(output)  # raises "Could not infer dtype of dict" on the old answer
    assert info["reward"].tolist() == [[expected_reward]]
    assert info["score"].tolist() == [[1.0 if expected_reason == "correct" else 0.0]]
    assert {key: info[key].tolist() for key in REASONS} == {key: [[1.0 if key == expected_reason else 0.0]] for key in REASONS}
    assert info["not_isolated"].tolist() == [[1.0 if expected_reason == "invalid_response" else 0.0]]


def test_py_file_mode_through_openrlhf_executor(monkeypatch, agent, tokenizer):
    monkeypatch.setenv("RLVR_GYM_VERIFIER", "gsm8k")
    monkeypatch.setenv("RLVR_GYM_ALPHA", str(ALPHA))
    monkeypatch.setenv("RLVR_GYM_WORKERS", "1")
    executor = agent.SingleTurnAgentExecutor(remote_rm_url=str(REWARD_FUNC_FILE))  # loads reward_func by path
    try:
        samples = hacking_samples(tokenizer)
        outputs = run_executor(executor, tokenizer, [s[:4] for s in samples])
        for output, sample in zip(outputs, samples):
            check_answer(output, *sample[4:])
        assert executor.reward_func.shared.verifier.alpha == ALPHA
    finally:
        executor.reward_func.close()


def test_py_file_without_settings_stops_at_load(monkeypatch, agent):
    monkeypatch.delenv("RLVR_GYM_VERIFIER", raising=False)
    with pytest.raises(RuntimeError, match="set RLVR_GYM_VERIFIER"):
        agent.SingleTurnAgentExecutor(remote_rm_url=str(REWARD_FUNC_FILE))


def test_old_answer_shape_crashes_openrlhf_step(agent, tokenizer, tmp_path):
    """The answer we used to send ({"extra_logs": {"reasons": {...}}}) through the same two steps: OpenRLHF's crash."""
    old = tmp_path / "old_reward.py"
    old.write_text(
        "def reward_func(queries, prompts, labels):\n"
        "    return {'rewards': [10.0], 'scores': [10.0], 'extra_logs': {'reasons': {'correct': 1, 'no_answer': 0}}}\n"
    )
    executor = agent.SingleTurnAgentExecutor(remote_rm_url=str(old))
    (output,) = run_executor(executor, tokenizer, [(chat_prompt(tokenizer, "What is 0 + 7?"), "7", "#### 7", 4096)])
    with pytest.raises(RuntimeError, match="Could not infer dtype of dict"):
        experience_info(output)


# ------------------------------------------------------------------ rlvr-gym serve as a real process
@pytest.fixture(scope="module")
def server_url():
    env = dict(os.environ, RLVR_GYM_SECRET_PATH=SECRET)
    env.pop("RLVR_GYM_TOKEN", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlvr_gym.cli", "serve", "--task", "gsm8k", "--alpha", str(ALPHA), "--port", "0", "--workers", "2"],
        stderr=subprocess.PIPE, text=True, env=env,
    )
    line = proc.stderr.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    assert match, line
    assert SECRET not in line  # the secret stays out of logs
    yield f"http://127.0.0.1:{match.group(1)}/{SECRET}/get_reward"
    proc.terminate()
    assert proc.wait(timeout=30) == 0


@pytest.mark.slow
def test_256_concurrent_one_sample_requests_from_openrlhf_client(agent, tokenizer, server_url):
    executor = agent.SingleTurnAgentExecutor(remote_rm_url=server_url)  # --reward.remote_url http://.../<secret>/get_reward
    samples, expected = [], []
    for k in range(250):
        a, b = k % 17, k // 17
        prompt = chat_prompt(tokenizer, f"What is {a} + {b}?")
        kind = k % 3  # correct, wrong, no answer
        response = [f"#### {a + b}<|im_end|>", f"#### {a + b + 1}<|im_end|>", "I am not sure.<|im_end|>"][kind]
        samples.append((prompt, str(a + b), response, 4096))
        expected.append([(ALPHA, "correct"), (0.0, "wrong_answer"), (0.0, "no_answer")][kind])
    for sample in hacking_samples(tokenizer):  # 6 more: 256 in all
        samples.append(sample[:4])
        expected.append(sample[4:])
    outputs = run_executor(executor, tokenizer, samples)
    assert len(outputs) == 256
    for output, (reward, reason) in zip(outputs, expected):
        check_answer(output, reward, reason)


def test_wrong_or_missing_secret_is_404(server_url):
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(server_url)
    for path in ("/get_reward", f"/{SECRET[:-1]}x/get_reward", f"/{SECRET}/get_reward/"):
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        conn.request("POST", path, body=b'{"query": ["q"], "prompts": ["p"], "labels": ["1"]}', headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        body = response.read()
        conn.close()
        assert response.status == 404 and SECRET.encode() not in body
