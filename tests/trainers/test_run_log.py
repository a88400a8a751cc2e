"""`RunLog`: the run's lines, the libraries' records and the warnings go to ``train.log``; the console keeps warnings once."""

from __future__ import annotations

import logging
import os
import warnings

from rlvr_gym.rollout.vllm_logging import RUN_LOG_ENV, quiet_vllm_logging
from rlvr_gym.trainers.run_log import RunLog


def test_the_file_gets_every_line_and_the_console_what_it_showed_before(tmp_path, capsys):
    path = tmp_path / "train.log"
    shown: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # Python's own: once per message and place
        with RunLog(path, console=shown.append) as run_log:
            run_log.info("rollout engine: hf")
            run_log.step(3, 10, {"rewards/mean": 2.5, "verifier/correct": 0.25, "time/step": 1.0}, ("rewards/mean", "kl/ref"))
            logging.getLogger("transformers.modeling_utils").warning("some weights were not used")  # does not reach the root
            logging.getLogger("some.library").warning("disk almost full")
            for _ in range(3):
                warnings.warn("a deprecated option", DeprecationWarning, stacklevel=1)
            assert os.environ[RUN_LOG_ENV] == str(path)
        run_log.info("after the run")  # the file is closed: console only
    assert RUN_LOG_ENV not in os.environ
    assert shown == ["rollout engine: hf", "after the run"]
    text = path.read_text()
    expected = [
        "INFO rlvr_gym: rollout engine: hf",
        "INFO rlvr_gym: step 3/10 rewards/mean=2.5\n",  # only the names asked for, and only those logged
        "WARNING transformers.modeling_utils: some weights were not used",
        "WARNING some.library: disk almost full",
        "WARNING py.warnings: ",
    ]
    at = [text.index(line) for line in expected]
    assert at == sorted(at)
    assert text.count("DeprecationWarning: a deprecated option") == 1  # Python showed it once
    assert all(line[:4].isdigit() for line in text.splitlines() if " rlvr_gym: " in line)  # stamped with the time
    err = capsys.readouterr().err
    assert err.count("DeprecationWarning: a deprecated option") == 1 and err.count("disk almost full") == 1
    # closed again: records no longer reach the file
    logging.getLogger("some.library").warning("later")
    assert "later" not in path.read_text()


def test_an_error_ending_the_run_is_kept(tmp_path):
    path = tmp_path / "train.log"
    try:
        with RunLog(path):
            raise RuntimeError("out of memory")
    except RuntimeError:
        pass
    assert path.read_text().strip().endswith("the run ended with RuntimeError: out of memory")


def test_processes_other_than_the_main_one_write_no_file(tmp_path):
    with RunLog(None, console=None) as run_log:
        run_log.info("hello")
        run_log.step(1, 2, {"rewards/mean": 1.0})
        assert RUN_LOG_ENV not in os.environ
    assert list(tmp_path.iterdir()) == []


def test_vllm_records_reach_the_run_log_named_by_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "train.log"
    monkeypatch.setenv(RUN_LOG_ENV, str(path))
    monkeypatch.setenv("VLLM_LOGGING_LEVEL", "WARNING")  # an earlier test may have asked for ERROR
    logger = logging.getLogger("vllm")
    before, level = list(logger.handlers), logger.level
    try:
        quiet_vllm_logging()
        quiet_vllm_logging()  # idempotent: one handler for the file
        added = [h for h in logger.handlers if h not in before]
        assert len(added) == 1
        logging.getLogger("vllm.rlvr_gym_test_child").warning("KV cache is small")  # a fresh child: not disabled by any dictConfig
        added[0].flush()
        state = f"disable={logging.root.manager.disable} vllm level={logger.level} disabled={logger.disabled} handlers={logger.handlers}"
        assert path.read_text().rstrip().endswith("vllm.rlvr_gym_test_child: KV cache is small"), state
    finally:
        logger.setLevel(level)
        for handler in logger.handlers[:]:
            if handler not in before:
                logger.removeHandler(handler)
                handler.close()


def test_closing_the_run_log_drops_the_handler_attached_after_vllms_import(tmp_path, monkeypatch):
    """In the main process vLLM's import replaces the ``vllm`` logger's handlers, and `VLLMEngine` re-attaches the run
    log through `quiet_vllm_logging`; closing the run removes that one too, so a later run's vLLM records stay out."""
    monkeypatch.setenv("VLLM_LOGGING_LEVEL", "WARNING")
    logger = logging.getLogger("vllm")
    before, level = list(logger.handlers), logger.level
    path = tmp_path / "train.log"
    try:
        with RunLog(path, console=None):
            for handler in logger.handlers[:]:  # what vLLM's logging set-up does to existing handlers
                logger.removeHandler(handler)
            quiet_vllm_logging()
            assert [getattr(h, "baseFilename", None) for h in logger.handlers] == [str(path)]
        assert not [h for h in logger.handlers if getattr(h, "baseFilename", None) == str(path)]
        logging.getLogger("vllm.rlvr_gym_test_child").warning("after the run")
        assert "after the run" not in path.read_text()
    finally:
        logger.setLevel(level)
        for handler in before:
            if handler not in logger.handlers:
                logger.addHandler(handler)
