"""The README's examples run as written."""

import re

from tests.conftest import REPO_ROOT


def _example(tag):
    text = (REPO_ROOT / "README.md").read_text()
    match = re.search(rf"<!-- readme-example: {tag} -->\n```python\n(.*?)```", text, re.DOTALL)
    assert match, f"README example {tag!r} not found"
    return match.group(1)


def test_register_a_task_in_at_most_15_lines(tmp_path, monkeypatch):
    code = _example("register-task")
    assert len(code.strip().splitlines()) <= 15
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
