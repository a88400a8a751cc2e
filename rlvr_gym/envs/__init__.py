"""Tasks and Gymnasium environments over verifiable prompts.

``import rlvr_gym`` registers the built-in tasks and their Gymnasium ids, so
``gymnasium.make("rlvr_gym/GSM8K-v0")`` works after it.
"""

from . import registration  # noqa: F401  (registers the built-in tasks once)
from .code_tasks import CodeSource, HumanEvalSource
from .data import DataNotFound, FileSource, HFDatasetSource, Item, ItemSource, data_root
from .env import RLVREnv, UnicodeText
from .procedural import ArithmeticSource, CountdownSource
from .tasks import PromptFormat, TaskSpec, format_prompt, get_task, held_out_items, list_tasks, load_items, register_task
from .vector import RLVRVectorEnv

__all__ = [
    "ArithmeticSource",
    "CodeSource",
    "CountdownSource",
    "DataNotFound",
    "FileSource",
    "HFDatasetSource",
    "HumanEvalSource",
    "Item",
    "ItemSource",
    "PromptFormat",
    "RLVREnv",
    "RLVRVectorEnv",
    "TaskSpec",
    "UnicodeText",
    "data_root",
    "format_prompt",
    "get_task",
    "held_out_items",
    "list_tasks",
    "load_items",
    "register_task",
]
