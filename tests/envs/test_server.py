"""`rlvr-gym serve` as a real process on loopback: valid load, hostile load, graceful shutdown."""

import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def server():
    env = dict(os.environ, RLVR_GYM_TOKEN=TOKEN)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rlvr_gym.cli",
            "serve",
            "--task",
            "gsm8k",
            "--alpha",
            "10",
            "--port",
            "0",
            "--workers",
            "2",
            "--max-body-bytes",
            "100000",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    line = proc.stderr.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    assert match, line
    yield proc, int(match.group(1))
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def request(port, method, path, body=None, token=TOKEN, raw=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    all_headers = {"Content-Type": "application/json"}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    all_headers.update(headers or {})
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    conn.request(method, path, body=data, headers=all_headers)
    response = conn.getresponse()
    payload = json.loads(response.read())
    conn.close()
    return response.status, payload


def valid_body(k):
    answers = [k, k + 1, k + 2]
    prompts = [f"Q{k}: what is it?", f"Q{k + 1}", f"Q{k + 2}"]
    queries = [prompts[0] + f" #### {k}", prompts[1] + " #### 0", prompts[2] + f" the answer is {k + 2}"]
    return {"query": queries, "prompts": prompts, "labels": [str(a) for a in answers]}


def test_100_concurrent_valid_requests(server):
    _, port = server

    def call(k):
        return k, request(port, "POST", "/get_reward", valid_body(k))

    with ThreadPoolExecutor(max_workers=100) as pool:
        results = list(pool.map(call, range(1, 101)))
    for _, (status, payload) in results:
        assert status == 200, payload
        # item 1's response "#### 0" is wrong unless its label is 0, which never happens here
        assert payload["rewards"] == [10.0, 0.0, 10.0]
        assert payload["scores"] == [1.0, 0.0, 1.0]  # 0/1 for OpenRLHF's dynamic filtering, whatever alpha
        assert payload["reasons"] == ["correct", "wrong_answer", "correct"]
        assert payload["extra_logs"]["correct"] == [1.0, 0.0, 1.0]
        assert payload["extra_logs"]["wrong_answer"] == [0.0, 1.0, 0.0]
        assert payload["extra_logs"]["not_isolated"] == [0.0, 0.0, 0.0]


def test_verify_endpoint_and_health(server):
    _, port = server
    status, payload = request(port, "POST", "/verify", {"responses": ["#### 7", "x"], "ground_truths": ["7", 7]})
    assert status == 200 and [v["reason"] for v in payload["verdicts"]] == ["correct", "no_answer"]
    assert request(port, "GET", "/health") == (200, {"status": "ok", "verifier": "gsm8k"})


def hostile_raw(port, data: bytes):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head = b"".join(chunks).split(b"\r\n", 1)[0].decode()
    return int(head.split()[1])


def test_1000_hostile_requests_get_the_right_4xx_and_the_server_stays_up(server):
    proc, port = server
    rng = random.Random(0)
    kinds = [
        "malformed",
        "oversized",
        "wrong_token",
        "no_token",
        "wrong_types",
        "not_object",
        "unknown_path",
        "wrong_method",
        "no_length",
        "length_mismatch",
    ]
    seen = {kind: 0 for kind in kinds}
    for i in range(1000):
        kind = kinds[i % len(kinds)]
        seen[kind] += 1
        if kind == "malformed":
            raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
            assert request(port, "POST", "/get_reward", raw=b"{" + raw)[0] == 400
        elif kind == "oversized":
            head = f"POST /get_reward HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {10**9}\r\n\r\n"
            assert hostile_raw(port, head.encode() + b"x" * 1000) == 413
        elif kind == "wrong_token":
            assert request(port, "POST", "/get_reward", valid_body(1), token="guess" + str(i))[0] == 401
        elif kind == "no_token":
            assert request(port, "POST", "/get_reward", valid_body(1), token=None)[0] == 401
        elif kind == "wrong_types":
            body = rng.choice(
                [
                    {"query": "x", "prompts": ["p"], "labels": ["1"]},
                    {"query": [1], "prompts": ["p"], "labels": ["1"]},
                    {"query": ["x"], "prompts": ["p"]},
                    {"query": ["x"], "prompts": ["p"], "labels": "1"},
                    {"query": ["x"], "prompts": [None], "labels": ["1"]},
                    {"query": ["x"], "labels": ["1"]},
                ]
            )
            status, payload = request(port, "POST", "/get_reward", body)
            assert status == 400 and "error" in payload
        elif kind == "not_object":
            assert request(port, "POST", "/verify", [1, 2, 3])[0] == 400
        elif kind == "unknown_path":
            assert request(port, "POST", f"/nope/{i}", {"a": 1})[0] == 404
        elif kind == "wrong_method":
            assert request(port, "GET", "/get_reward")[0] == 405
        elif kind == "no_length":
            head = f"POST /verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
            assert hostile_raw(port, head.encode()) == 411
        elif kind == "length_mismatch":
            assert request(port, "POST", "/get_reward", {"query": ["a", "b"], "prompts": ["a", "b"], "labels": ["1"]})[0] == 400
    assert all(n == 100 for n in seen.values())
    assert proc.poll() is None
    status, payload = request(port, "POST", "/get_reward", valid_body(5))
    assert status == 200 and payload["rewards"] == [10.0, 0.0, 10.0]


def test_errors_name_the_field(server):
    _, port = server
    assert request(port, "POST", "/get_reward", {"query": ["x #### 1"], "labels": ["1"]}) == (400, {"error": "missing field 'prompts'"})
    status, payload = request(port, "POST", "/get_reward", {"query": ["q #### 1"], "prompts": ["p"], "labels": ["1"]})
    # the query does not hold the prompt: 0, with the reason, never the whole query verified
    assert status == 200 and payload["rewards"] == [0.0] and payload["reasons"] == ["invalid_response"]
    assert payload["extra_logs"]["not_isolated"] == [1.0]


def test_sigterm_shuts_down_cleanly(server):
    proc, _port = server
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert "stopped" in proc.stderr.read()


def test_secret_path_must_be_a_url_safe_secret():
    from rlvr_gym.envs.adapters.server import ServerConfig

    assert ServerConfig(secret_path="A" * 16).secret_path == "A" * 16
    # too short to be a secret; a comma (OpenRLHF splits --reward.remote_url on commas); a slash; a space
    for bad in ("short", "a" * 15 + ",b", "a" * 16 + "/x", "a" * 16 + " "):
        with pytest.raises(ValueError, match="secret_path must be 16 to 256 characters"):
            ServerConfig(secret_path=bad)
