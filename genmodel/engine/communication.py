"""Collectives of one engine step on a multi-device layout (docs/parallelism.md section 2-3).

Contract
--------
``layer_collectives`` returns, for one pass of all layers over the tokens of one attention group, the seconds of
each collective (arrays): TP all-reduces after attention and dense FFNs, EP all-to-all dispatch and combine (with
attention data parallelism), CP all-gathers (prefill) or all-reduces (decode), and the vocabulary collectives of
the embedding and LM head. ``pp_send`` is the time of one stage-to-stage activation transfer. Messages carry the
residual stream, at least 16 bits per element (``residual_bytes``: fp8/fp4 activations are GEMM inputs only), except
the expert dispatch, sent in the activation datatype. How much of this is on the critical path (pipeline share,
overlap) is decided by ``genmodel.engine.step``.
"""

from __future__ import annotations

import numpy as np

from genmodel.engine.collectives import Network, all_gather, all_reduce, all_to_all, point_to_point
from genmodel.engine.operators import broadcast_shape
from genmodel.engine.parallel import Parallelism
from genmodel.engine.scalars import any_true, ndim
from genmodel.specs.model import ModelSpec


def layer_collectives(model: ModelSpec, net: Network, par: Parallelism, tokens, batch, ab: float, phase: str,
                       kv_layer_bytes, prompt_tokens):
    """Seconds of each collective for one pass of all layers over ``tokens`` tokens of an attention group.

    Returns {name: seconds} (arrays). Per layer: a TP all-reduce after attention and after a dense FFN; an
    MoE layer adds, with attention data parallelism, an all-to-all dispatch and combine of the routed
    tokens over the EP group (plus a TP all-reduce for shared experts), else one TP all-reduce; once per
    pass: the vocabulary-parallel embedding's all-reduce and the LM head's logits all-gather.
    """
    H, L = model.hidden_size, model.num_layers
    tp = np.asarray(par.tp, dtype=float)
    rb = residual_bytes(ab)
    hidden = tokens * H * rb
    single = _all_single(tokens, par.tp, par.ep, par.cp, par.attention_dp, batch, net.domain)
    ar = _ZERO if single and not tp > 1 else _of_several(tp > 1, all_reduce(net, hidden, tp), single)
    n_moe = model.num_moe_layers
    n_dense = L - n_moe
    adp = np.asarray(par.attention_dp, dtype=bool)
    out = {"tp_all_reduce": (L + n_dense) * ar}
    if n_moe:
        k = model.moe.experts_per_token
        ep = np.asarray(par.ep, dtype=float)
        sent = tokens * k * H / tp  # elements each TP rank of an attention group dispatches (its share)
        skip = single and not (adp & (ep > 1))
        select = single or adp.ndim > 0 or not adp  # (else the condition is ep > 1: the cost as it is)
        a2a = _ZERO if skip else _of_several(adp & (ep > 1), all_to_all(net, sent * ab, ep), select)
        back = a2a if rb == ab or skip else _of_several(adp & (ep > 1), all_to_all(net, sent * rb, ep), select)
        shared_ar = ar if model.moe.num_shared_experts else 0.0
        # (a single attention_dp that selects ``ar``, or a shared expert's all-reduce that is ``ar``: ``ar`` itself,
        # of which np.where would make a copy)
        moe_ar = ar if adp.ndim == 0 and (shared_ar is ar or not adp) else np.where(adp, shared_ar, ar)
        out["tp_all_reduce"] = out["tp_all_reduce"] + n_moe * moe_ar
        out["ep_dispatch"] = n_moe * a2a
        out["ep_combine"] = n_moe * back
    gather = _ZERO if single and not tp > 1 else _of_several(tp > 1, all_gather(net, batch * model.vocab_size * rb,
                                                                                  tp), single)
    out["vocab_collectives"] = ar + gather
    cp = np.asarray(par.cp, dtype=float)
    if (cp > 1 if single else any_true(cp > 1)):
        # the cp ranks sit tp apart: a domain holds D / tp of them
        cp_net = net.scaled(domain=np.maximum(np.floor(net.domain / tp), 1))
        if phase == "prefill":  # all-gather every rank's keys and values of the prompt, per layer
            cp_comm = L * all_gather(cp_net, batch * prompt_tokens * kv_layer_bytes, cp)
        else:  # all-reduce the partial attention outputs (and softmax sums) of the local KV shards
            heads = model.attention.num_heads / tp
            width = model.attention.mla.v_head_dim if model.attention.mla else model.head_dim
            cp_comm = L * all_reduce(cp_net, batch * heads * (width + 2) * rb, cp)
        out["cp_collectives"] = np.where(cp > 1, cp_comm, 0.0)
    return out


def residual_bytes(ab: float) -> float:
    """Bytes per element of the residual stream: the activation datatype's, but at least 16 bits. Engines quantize
    activations to fp8/fp4 only at a GEMM's input; the GEMM writes 16-bit outputs, and the TP all-reduces, the
    combine of routed experts, the logits and the stage-to-stage sends carry those (TensorRT-LLM's and vLLM's fp8
    paths; DeepSeek's DeepEP dispatches in fp8 and combines in bf16)."""
    return max(float(ab), 2.0)


# what ``np.where(False, x, 0.0)`` gives for a 0-d float x: a 0-d float64 zero (a fresh one each time it is used in
# arithmetic; the constant itself is never written to)
_ZERO = np.zeros(())
_ZERO.setflags(write=False)


def _all_single(*values) -> bool:
    """True when every value is a single number (a Python number or a 0-d array): then a collective whose group is
    one device is the 0-d zero ``np.where(condition, cost, 0.0)`` would give, without computing the cost."""
    return not any(map(ndim, values))  # (every np.ndim is 0, by ``ndim``: np.ndim's answer without its dispatch)


def _of_several(condition, cost: np.ndarray, where: bool):
    """``np.where(condition, cost, 0.0)`` for the ``cost`` of a collective over groups of n devices and ``condition``
    "the group has several devices" (n > 1). Without ``where``, ``cost`` itself: the same numbers, since
    genmodel.engine.collectives already gives exactly +0.0 for a group of one device, and ``cost`` already has the
    broadcast shape of n and the message. Callers ask for the selection (``where``) for single values (its 0-d array)
    and where the condition is more than n > 1 (the all-to-all's, under an attention_dp array or a false one)."""
    return np.where(condition, cost, 0.0) if where else cost


def pp_send(net: Network, par: Parallelism, tokens, H: int, ab: float):
    """Seconds for one stage-to-stage activation transfer, averaged over the stage boundaries."""
    pp = np.asarray(par.pp, dtype=float)
    stage = par.stage_size
    if pp.ndim == 0 and not pp > 1:  # one stage: no boundary to cross (the zeros the last line would give)
        if _all_single(tokens, stage, net.domain):
            return np.zeros(())
        return np.zeros(broadcast_shape(np.shape(tokens), np.shape(stage), np.shape(net.domain)))
    boundaries = np.maximum(pp - 1, 1)
    # boundary k sits after k x stage devices; it crosses a scale-up domain when that is a multiple of it
    crossing = np.minimum(pp - 1, np.floor((pp - 1) * stage / net.domain))
    share = crossing / boundaries
    m = tokens * H * residual_bytes(ab)
    t = share * point_to_point(net, m, True) + (1 - share) * point_to_point(net, m, False)
    return np.where(pp > 1, t, 0.0)
