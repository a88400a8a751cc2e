#!/usr/bin/env bash
# GPU check: a short RLVR run (PPO on the arithmetic task, the tiny model built in code and SFT'd
# first, no download) on CUDA with bf16 and gradient checkpointing, in at most ~8 minutes.
#
#   bash scripts/gpu_check.sh                        # one GPU, SingleDevice (strategy.distributed=none)
#   STEPS=30 bash scripts/gpu_check.sh               # fewer PPO steps
#   STRATEGY=zero2 NGPU=4 bash scripts/gpu_check.sh  # DeepSpeed ZeRO-2 over 4 GPUs: `deepspeed --num_gpus 4`
#   STRATEGY=zero3 NGPU=1 bash scripts/gpu_check.sh  # ZeRO-3 in one process (a world of one)
#
# Steps: print nvidia-smi and versions (and fail if CUDA, bf16 or a needed package is missing);
# run `python -m rlvr_gym.cli train --set ...` (under `deepspeed --num_gpus NGPU` when NGPU > 1)
# under `timeout 470` (SIGINT first: the trainer finishes its step and checkpoints); check that
# the run's config.yaml took every override; print summary.json and the metrics.
# Exits non-zero if anything fails, the run times out, or a metric is NaN/inf.
#
# Environment (all optional):
#   OUT         where results go (default runs/gpu-check-<time>): train.log, versions.txt,
#               gpu_usage.csv (nvidia-smi every 2 s), summary.json, metrics.jsonl, samples.jsonl, config.yaml
#   STEPS       PPO steps (default 80: +44.8 points on an H100 in 127 s, docs/gpu-check-h100/)
#   EVAL_SIZE   held-out prompts (default 500)
#   SFT_STEPS   cap on the built-in SFT, which runs on the CPU before PPO (default 400; it stops
#               earlier at sft.target_accuracy)
#   ENGINE      hf | vllm (default: vllm when importable, else hf)
#   STRATEGY    none | zero2 | zero3 (default none)
#   NGPU        processes/GPUs for zero2/zero3 (default 1; >1 launches `deepspeed --num_gpus NGPU`)
#   TIME_LIMIT  seconds for the training command (default 470)
#   EXTRA_SET   more KEY=VALUE overrides, space-separated (e.g. "ppo.ref_update=ema ppo.ref_ema_decay=0.9")
#   PYTHON      interpreter (default python3, else python)
#
# Config keys set (rlvr_gym/trainers/config.py, trainers/strategies/config.py, rollout/config.py): run_dir, total_steps, sft.steps,
# strategy.{distributed,device,dtype,gradient_checkpointing}, rollout.engine,
# rollout.hf.{device,dtype,max_batch_size} or rollout.vllm.gpu_memory_utilization, verify.workers, eval.size,
# log.{progress_bar,tensorboard}.
#
# zero2/zero3 need deepspeed (pip install deepspeed==0.19.8). NGPU=1 runs the loop as a DeepSpeed
# world of one; NGPU>1 runs one process per GPU, each on its share of every batch (tested on CPU
# with 2 processes: the same weights as one process, Ctrl-C on one rank stops all, resume).
# ppo.rollout_batch_size and ppo.mini_batch_size must be multiples of NGPU.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export TOKENIZERS_PARALLELISM=false
PY=${PYTHON:-$(command -v python3 || command -v python)}
OUT_DIR=${OUT:-$REPO/runs/gpu-check-$(date +%Y%m%d-%H%M%S)}
STEPS=${STEPS:-80}
SFT_STEPS=${SFT_STEPS:-400}
EVAL_SIZE=${EVAL_SIZE:-500}
STRATEGY=${STRATEGY:-none}
NGPU=${NGPU:-1}
TIME_LIMIT=${TIME_LIMIT:-470}
RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/rlvr-gpu-check.XXXXXX")/run
mkdir -p "$OUT_DIR"

echo "== nvidia-smi"
nvidia-smi
echo "== versions"
"$PY" scripts/gpu_check.py preflight --strategy "$STRATEGY" 2>&1 | tee "$OUT_DIR/versions.txt"

if [[ -z "${ENGINE:-}" ]]; then
  if "$PY" -c "import vllm" >/dev/null 2>&1; then ENGINE=vllm; else ENGINE=hf; fi
fi
OVERRIDES=(
  "run_dir=$RUN_DIR"
  "total_steps=$STEPS"
  "sft.steps=$SFT_STEPS"
  "strategy.distributed=$STRATEGY"
  "strategy.device=cuda"
  "strategy.dtype=bfloat16"
  "strategy.gradient_checkpointing=true"
  "rollout.engine=$ENGINE"
  "verify.workers=4"
  "eval.size=$EVAL_SIZE"
  "log.progress_bar=false"
  "log.tensorboard=false"
)
read -r -a EXTRA <<<"${EXTRA_SET:-}"
OVERRIDES+=("${EXTRA[@]}")
if [[ "$ENGINE" == hf ]]; then
  # max_batch_size: the default run's 512 (overriding one rollout.hf key resets the others to HFEngineConfig's defaults)
  OVERRIDES+=("rollout.hf.device=cuda" "rollout.hf.dtype=bfloat16" "rollout.hf.max_batch_size=512")
else
  OVERRIDES+=("rollout.vllm.gpu_memory_utilization=0.3")
fi

CLI=(train)
for override in "${OVERRIDES[@]}"; do CLI+=(--set "$override"); done
if [[ "$NGPU" -gt 1 ]]; then
  CMD=(deepspeed --num_gpus "$NGPU" --no_local_rank --module rlvr_gym.cli "${CLI[@]}")
else
  CMD=("$PY" -m rlvr_gym.cli "${CLI[@]}")
fi
if [[ "$STRATEGY" == none && "$NGPU" -gt 1 ]]; then
  echo "FAIL: NGPU=$NGPU needs STRATEGY=zero2 or zero3" >&2
  exit 1
fi

nvidia-smi --query-gpu=timestamp,index,memory.used,utilization.gpu --format=csv,nounits -l 2 >"$OUT_DIR/gpu_usage.csv" 2>/dev/null &
MONITOR=$!
trap 'kill "$MONITOR" 2>/dev/null || true' EXIT

echo "== train (limit ${TIME_LIMIT}s): ${CMD[*]}"
started=$(date +%s)
set +e
timeout --signal=INT --kill-after=30 "$TIME_LIMIT" "${CMD[@]}" 2>&1 | tee "$OUT_DIR/train.log"
rc=${PIPESTATUS[0]}
set -e
echo "== train exited with $rc after $(($(date +%s) - started)) s"

for f in summary.json metrics.jsonl samples.jsonl config.yaml; do
  if [[ -f "$RUN_DIR/$f" ]]; then cp "$RUN_DIR/$f" "$OUT_DIR/"; fi
done
echo "== peak GPU memory (MiB) per device"
awk -F', ' 'NR > 1 && $3 + 0 > peak[$2] { peak[$2] = $3 + 0 } END { for (d in peak) print "cuda:" d, peak[d] }' "$OUT_DIR/gpu_usage.csv" || true

echo "== config"
verify_rc=0
"$PY" scripts/gpu_check.py verify "$RUN_DIR" "${OVERRIDES[@]}" || verify_rc=$?
echo "== summary ($RUN_DIR, copied to $OUT_DIR)"
summary_rc=0
"$PY" scripts/gpu_check.py summary "$RUN_DIR" || summary_rc=$?

if [[ $rc -eq 124 || $rc -eq 137 ]]; then
  echo "FAIL: training hit the ${TIME_LIMIT}s limit (rc $rc)" >&2
  exit 1
elif [[ $rc -ne 0 ]]; then
  echo "FAIL: training exited with $rc (see $OUT_DIR/train.log)" >&2
  exit "$rc"
elif [[ $verify_rc -ne 0 || $summary_rc -ne 0 ]]; then
  echo "FAIL: the run did not use the requested config or did not complete cleanly (see above)" >&2
  exit 1
fi
echo "GPU CHECK PASSED"
