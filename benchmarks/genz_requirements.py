"""GenZ's platform-requirement figures recomputed with ``genmodel.requirements`` (docs/genz_reproduction.md).

GenZ (Bambhaniya et al., "Demystifying Platform Requirements for Diverse LLM Inference Use Cases", arXiv 2406.01698
v1) states per-device requirements for five use cases and five models (paper section VII) and for future models
at long contexts (section VIII). The numbers quoted here are the data of those charts as the authors' notebooks
computed and printed them (github.com/abhibambhaniya/GenZ-LLM-Analyzer at commit a90f48a, 2024-05-21, folder
"Paper charts/"; removed from the repository in the next commit, 4e240c2). Every genmodel number in
docs/genz_reproduction.md comes from this script; tests/test_genz_reproduction.py checks that the tables in the
document are what it prints now.

Usage: python benchmarks/genz_requirements.py      (prints the document's tables as markdown)

GenZ's units, read from its code (src/unit.py: memory sizes binary, FLOPs decimal): its "MB" is MiB, its
bandwidth "TB/s" is MiB / 1e6 per second (= 1.048576e12 bytes/s), its capacity "GB" is GiB and its future-model
"TB" is TiB; its "PFLOP/s" is 1e15 FLOP/s. The tables give GenZ's number as stated and in SI bytes beside it.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from genmodel.data.registry import get_model
from genmodel.search.requirements import requirements
from genmodel.specs.model import ModelSpec

MIB = 2**20
GIB = 2**30
GENZ_TBPS = 1e6 * MIB  # bytes/s in one of GenZ's "TB/s" (MiB / 1e6 per second)
DTYPES = {"weight_dtype": "int8", "kv_dtype": "int8", "activation_dtype": "int8"}  # GenZ's charts: bits='int8'
LONG_CONTEXT = 2**21  # max_context_tokens given to models GenZ runs past their real context (see below)
# the real context of the models GenZ runs past it: Llama-2 (models_db/llama-2-7b.yaml), GPT-3 (Brown et al. 2020)
REAL_CONTEXT = {"LLaMA2-07B": 4096, "GPT3-175B": 2048}

# GenZ's use cases ("Paper charts/variables.py", Prefill_requirements and Decode_requirements; the paper's use-case
# table): batch, beams, input tokens, output tokens, TTFT target (s), TPOT target (s)
USE_CASES = {
    "QA": (1, 4, 1000, 200, 0.2, 0.010),
    "Chat Bots": (1, 2, 3000, 1000, 0.2, 0.010),
    "QA + RAG": (1, 4, 10000, 200, 0.4, 0.010),
    "Summarization": (1, 4, 15000, 1000, 2.0, 0.020),
    "Code Generation": (1, 4, 20000, 50, 5.0, 0.020),
}
MODELS = ("LLaMA2-07B", "Mixtral-8x7B", "LLaMA3-70B", "GPT3-175B", "GPT4-1.8T")  # GenZ's plot labels

# Section VII charts ("Paper charts/Sec 7.  Platform Requirements.ipynb", outputs of cells 4 and 12, the data the
# 3-D bar charts of cells 6 and 13 label with '%0.2f' and the stacked capacity bars of cell 9 plot):
# (use case, model): (decode memory bandwidth in GenZ "TB/s" at the TPOT target,
#                     prefill compute in PFLOP/s at the TTFT target,
#                     weights in GenZ "MB" (MiB), KV cache in MiB) -- capacity chart = (weights + KV) / 1024 "GB"
GENZ_SEC7 = {
    ("QA", "GPT4-1.8T"): (28.696500, 2.987026, 1862784.0, 4725.00),
    ("QA", "GPT3-175B"): (16.993800, 1.763055, 165888.0, 4050.00),
    ("QA", "LLaMA3-70B"): (6.603000, 0.697618, 65280.0, 750.00),
    ("QA", "Mixtral-8x7B"): (1.233200, 0.128786, 44288.0, 300.00),
    ("QA", "LLaMA2-07B"): (0.662600, 0.067381, 6176.0, 450.00),
    ("Summarization", "GPT4-1.8T"): (16.605750, 5.058567, 1862784.0, 49875.00),
    ("Summarization", "GPT3-175B"): (10.431900, 3.140034, 165888.0, 42750.00),
    ("Summarization", "LLaMA3-70B"): (3.764000, 1.321678, 65280.0, 10000.00),
    ("Summarization", "Mixtral-8x7B"): (0.801600, 0.248229, 44288.0, 4000.00),
    ("Summarization", "LLaMA2-07B"): (0.546300, 0.156122, 6176.0, 4750.00),
    ("Code Generation", "GPT4-1.8T"): (16.763250, 2.808003, 1862784.0, 53025.00),
    ("Code Generation", "GPT3-175B"): (10.566900, 1.769057, 165888.0, 45450.00),
    ("Code Generation", "LLaMA3-70B"): (3.890562, 0.757324, 65280.0, 12531.25),
    ("Code Generation", "Mixtral-8x7B"): (0.852225, 0.142875, 44288.0, 5012.50),
    ("Code Generation", "LLaMA2-07B"): (0.561300, 0.093751, 6176.0, 5050.00),
    ("Chat Bots", "GPT4-1.8T"): (29.536500, 9.126229, 1862784.0, 13125.00),
    ("Chat Bots", "GPT3-175B"): (17.713800, 5.430722, 165888.0, 11250.00),
    ("Chat Bots", "LLaMA3-70B"): (6.653000, 2.171496, 65280.0, 1250.00),
    ("Chat Bots", "Mixtral-8x7B"): (1.253200, 0.402087, 44288.0, 500.00),
    ("Chat Bots", "LLaMA2-07B"): (0.742600, 0.217873, 6176.0, 1250.00),
    ("QA + RAG", "GPT4-1.8T"): (31.059000, 16.173761, 1862784.0, 28350.00),
    ("QA + RAG", "GPT3-175B"): (19.018800, 9.876957, 165888.0, 24300.00),
    ("QA + RAG", "LLaMA3-70B"): (7.165500, 4.077912, 65280.0, 6375.00),
    ("QA + RAG", "Mixtral-8x7B"): (1.458200, 0.761895, 44288.0, 2550.00),
    ("QA + RAG", "LLaMA2-07B"): (0.887600, 0.454872, 6176.0, 2700.00),
}

# Section VIII ("Paper charts/Sec 8. Future Model Requirements.ipynb", cell 3): batch 1, 4 beams, 2,000 output
# tokens, 5 tokens/s (TPOT 0.2 s), int8, contexts 102,400 to 2,017,280 in steps of 10,240. The cell prints
# weights and KV cache (GiB) for every point; the capacity chart plots (weights + KV) / 1024 "TB" (TiB) and the
# bandwidth chart (weights + KV - unused experts) / TPOT in "TB/s". Three of its points:
# (model, context tokens): (weights GiB, KV GiB)
FUTURE_TPOT_S, FUTURE_OUTPUT, FUTURE_BEAMS = 0.2, 2000, 4
GENZ_SEC8 = {
    ("GPT3-175B", 102400): (162.0, 242.578125),
    ("GPT4-1.8T", 102400): (1819.125, 283.0078125),
    ("Super LLM-10T", 102400): (8839.125, 363.8671875),
    ("GPT3-175B", 1024000): (162.0, 2267.578125),
    ("GPT4-1.8T", 1024000): (1819.125, 2645.5078125),
    ("Super LLM-10T", 1024000): (8839.125, 3401.3671875),
    ("GPT3-175B", 2017280): (162.0, 4450.078125),
    ("GPT4-1.8T", 2017280): (1819.125, 5191.7578125),
    ("Super LLM-10T", 2017280): (8839.125, 6675.1171875),
}
# Weights GenZ leaves unread in decode (the experts outside the top-k), MiB: GPT-4 from the Sec. 7 decode table
# ("Unused Weights (MB)" 1,580,544); Super LLM from its model definition: 28 of 32 experts x 3 matrices x
# 55,296 x 13,824 bytes x 128 layers / 2**20.
GENZ_UNUSED_MIB = {"GPT3-175B": 0.0, "GPT4-1.8T": 1580544.0, "Super LLM-10T": 7838208.0}


def _spec(base: ModelSpec | dict, **update) -> ModelSpec:
    data = base.model_dump() if isinstance(base, ModelSpec) else base
    return ModelSpec.model_validate({**data, **update})


@functools.cache
def models() -> dict[str, ModelSpec]:
    """genmodel's model for each GenZ label. Released models from the database; the GPT-3, GPT-4 and Super-LLM
    shapes are GenZ's own (GenZ's utils/get_language_model.py at a90f48a), written as ModelSpecs. GenZ runs
    models past their real context (LLaMA-2-7B, 4,096 tokens, and GPT-3, 2,048, at up to 20,050 tokens);
    genmodel refuses that, so the limit is lifted here to follow GenZ (it changes nothing else)."""
    lift = {"max_context_tokens": LONG_CONTEXT}
    gpt3 = {"name": "genz-gpt-3-175b", "display_name": "GPT-3 175B", "family": "gpt", "hidden_size": 12288,
            "num_layers": 96, "vocab_size": 50257, "tie_word_embeddings": True,
            "attention": {"num_heads": 96, "num_kv_heads": 96, "head_dim": 128},
            "ffn": {"intermediate_size": 4 * 12288, "gated": False, "activation": "gelu"},
            "source": "Brown et al. 2020 (arXiv 2005.14165) table 2.1; GenZ get_language_model.py 'gpt-3'", **lift}
    gpt4 = {"name": "genz-gpt-4-1.8t", "display_name": "GPT-4 1.8T (GenZ's guess)", "family": "gpt",
            "hidden_size": 84 * 128, "num_layers": 128, "vocab_size": 100277, "tie_word_embeddings": False,
            "attention": {"num_heads": 84, "num_kv_heads": 84, "head_dim": 128},
            "ffn": {"intermediate_size": 4 * 84 * 128, "gated": False, "activation": "gelu"},
            "moe": {"num_experts": 16, "experts_per_token": 2, "expert_intermediate_size": 4 * 84 * 128},
            "source": "GenZ get_language_model.py 'gpt-4'; vocabulary: tiktoken cl100k_base (100,277)", **lift}
    superllm = {"name": "genz-super-llm-10t", "display_name": "Super LLM 10T (GenZ)", "family": "synthetic",
                "hidden_size": 108 * 128, "num_layers": 128, "vocab_size": 131072, "tie_word_embeddings": False,
                "attention": {"num_heads": 108, "num_kv_heads": 108, "head_dim": 128},
                "ffn": {"intermediate_size": 4 * 108 * 128, "gated": True, "activation": "silu"},
                "moe": {"num_experts": 32, "experts_per_token": 4, "expert_intermediate_size": 4 * 108 * 128},
                "source": "GenZ get_language_model.py 'super_llm'; vocabulary: genmodel's synthetic rule", **lift}
    return {"LLaMA2-07B": _spec(get_model("llama-2-7b"), name="llama-2-7b-long", **lift),
            "Mixtral-8x7B": get_model("mixtral-8x7b"),
            "LLaMA3-70B": get_model("llama-3.1-70b"),
            "GPT3-175B": _spec(gpt3), "GPT4-1.8T": _spec(gpt4), "Super LLM-10T": _spec(superllm)}


# genmodel's own synthetic stand-ins for the same parameter budgets (docs/synthetic_models.md): GQA with 8 KV heads,
# top-8 MoE with a shared expert; budgets = GenZ's counts (GPT-4: 1.95T total, 296B active; Super LLM: 9.49T, 1.27T)
SYNTHETIC = {"GPT3-175B": "synthetic:dense-175b", "GPT4-1.8T": "synthetic:moe-1.95t-a296b",
             "Super LLM-10T": "synthetic:moe-9.49t-a1.27t"}


def _ideal(model, I, O, beams, ttft=None, tpot=None):
    """genmodel's ideal floors. The targets go in as one-element arrays: an array target is never refused, so the
    ideal floors come back even where the realistic step (kernel floors, launch gaps, host work) cannot meet the
    target on one device, as for the 9.49T stand-in at QA's 10 ms TPOT (its realistic floor is 11.5 ms); a scalar
    target would raise there. Only the ideal floors are compared with GenZ's."""
    ttft, tpot = (None if t is None else np.array([t]) for t in (ttft, tpot))
    r = requirements(model, I, O, ttft, tpot, batch=1, samples_per_prompt=beams, **DTYPES)
    return {k: float(np.ravel(v)[0]) for k, v in r.ideal.items()}


def _g(x: float) -> str:
    """4 significant digits, thousands separated (1,863 and 6.603 and 0.06738)."""
    if x == 0:
        return "0"
    return f"{x:,.{max(0, 3 - math.floor(math.log10(abs(x))))}f}"


def _r(x: float) -> str:
    return f"{x:.3f}"


@functools.cache
def sec7() -> list[dict]:
    """Per GenZ (use case, model): GenZ's three charted figures, in its units and SI, and genmodel's ideal floors
    under the same assumptions (batch 1, GenZ's beams as samples per prompt, int8 everywhere, one device, the
    TPOT target alone for decode bandwidth and capacity, the TTFT target alone for prefill compute)."""
    out = []
    for case, (_, beams, I, O, ttft, tpot) in USE_CASES.items():
        for label in MODELS:
            bw, pf, w_mib, kv_mib = GENZ_SEC7[(case, label)]
            m = models()[label]
            dec = _ideal(m, I, O, beams, tpot=tpot)
            pre = _ideal(m, I, O, beams, ttft=ttft)
            beyond = REAL_CONTEXT.get(label, math.inf) < I + O
            out.append({"case": case, "model": label, "beyond_context": beyond,
                        "genz_bw": bw, "genz_bw_si": bw * GENZ_TBPS, "bw": dec["memory_bandwidth_bytes_per_s"],
                        "genz_pflops": pf, "pflops": pre["flops_per_s"] / 1e15,
                        "genz_cap_gib": (w_mib + kv_mib) / 1024, "genz_cap_si": (w_mib + kv_mib) * MIB,
                        "cap": dec["memory_capacity_bytes"]})
    return out


@functools.cache
def sec8() -> list[dict]:
    """GenZ's future-model points and genmodel's ideal decode floors at them (TPOT target alone)."""
    out = []
    for (label, ctx), (w_gib, kv_gib) in GENZ_SEC8.items():
        dec = _ideal(models()[label], ctx, FUTURE_OUTPUT, FUTURE_BEAMS, tpot=FUTURE_TPOT_S)
        bw_mib = (w_gib + kv_gib) * 1024 - GENZ_UNUSED_MIB[label]
        out.append({"model": label, "context": ctx, "genz_cap_tib": (w_gib + kv_gib) / 1024,
                    "genz_cap_si": (w_gib + kv_gib) * GIB, "cap": dec["memory_capacity_bytes"],
                    "genz_bw": bw_mib / 1e6 / FUTURE_TPOT_S, "genz_bw_si": bw_mib * MIB / FUTURE_TPOT_S,
                    "bw": dec["memory_bandwidth_bytes_per_s"]})
    return out


@functools.cache
def synthetic() -> list[dict]:
    """The three large models as genmodel's synthetic stand-ins: QA decode (Sec. VII) and 1,024,000-token context
    (Sec. VIII) floors beside the GenZ-shaped model's."""
    out = []
    qa = USE_CASES["QA"]
    for label, name in SYNTHETIC.items():
        row = {"model": label, "synthetic": name}
        # the rule's models stop at 131,072 tokens: lifted as for GenZ's shapes, under a name of its own
        stand_in = _spec(get_model(name), name=name.replace(":", "-") + "-long", max_context_tokens=LONG_CONTEXT)
        for tag, model in (("genz", models()[label]), ("syn", stand_in)):
            a = _ideal(model, qa[2], qa[3], qa[1], tpot=qa[5])
            b = _ideal(model, 1024000, FUTURE_OUTPUT, FUTURE_BEAMS, tpot=FUTURE_TPOT_S)
            row.update({f"{tag}_qa_bw": a["memory_bandwidth_bytes_per_s"], f"{tag}_qa_cap": a["memory_capacity_bytes"],
                        f"{tag}_long_bw": b["memory_bandwidth_bytes_per_s"],
                        f"{tag}_long_cap": b["memory_capacity_bytes"]})
        out.append(row)
    return out


def table_bandwidth() -> str:
    lines = ["| use case | model | GenZ \"TB/s\" (stated) | GenZ, TB/s (SI) | genmodel ideal, TB/s | "
             "genmodel / GenZ stated | genmodel / GenZ SI |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in sec7():
        mark = " †" if r["beyond_context"] else ""
        lines.append(f"| {r['case']} | {r['model']}{mark} | {_g(r['genz_bw'])} | {_g(r['genz_bw_si'] / 1e12)} | "
                     f"{_g(r['bw'] / 1e12)} | {_r(r['bw'] / 1e12 / r['genz_bw'])} | "
                     f"{_r(r['bw'] / r['genz_bw_si'])} |")
    return "\n".join(lines)


def table_compute() -> str:
    lines = ["| use case | model | GenZ, PFLOP/s | genmodel ideal, PFLOP/s | genmodel / GenZ |",
             "|---|---|---:|---:|---:|"]
    for r in sec7():
        mark = " †" if r["beyond_context"] else ""
        lines.append(f"| {r['case']} | {r['model']}{mark} | {_g(r['genz_pflops'])} | {_g(r['pflops'])} | "
                     f"{_r(r['pflops'] / r['genz_pflops'])} |")
    return "\n".join(lines)


def table_capacity() -> str:
    lines = ["| use case | model | GenZ \"GB\" (stated, GiB) | GenZ, GB (SI) | genmodel ideal, GB | "
             "genmodel / GenZ SI |", "|---|---|---:|---:|---:|---:|"]
    for r in sec7():
        mark = " †" if r["beyond_context"] else ""
        lines.append(f"| {r['case']} | {r['model']}{mark} | {_g(r['genz_cap_gib'])} | {_g(r['genz_cap_si'] / 1e9)} | "
                     f"{_g(r['cap'] / 1e9)} | {_r(r['cap'] / r['genz_cap_si'])} |")
    return "\n".join(lines)


def table_future() -> str:
    lines = ["| model | context tokens | GenZ capacity \"TB\" (TiB) | GenZ capacity, TB (SI) | genmodel ideal, TB | "
             "ratio | GenZ bandwidth \"TB/s\" | GenZ bandwidth, TB/s (SI) | genmodel ideal, TB/s | ratio |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sec8():
        lines.append(f"| {r['model']} | {r['context']:,} | {_g(r['genz_cap_tib'])} | {_g(r['genz_cap_si'] / 1e12)} | "
                     f"{_g(r['cap'] / 1e12)} | {_r(r['cap'] / r['genz_cap_si'])} | {_g(r['genz_bw'])} | "
                     f"{_g(r['genz_bw_si'] / 1e12)} | {_g(r['bw'] / 1e12)} | {_r(r['bw'] / r['genz_bw_si'])} |")
    return "\n".join(lines)


def table_synthetic() -> str:
    lines = ["| GenZ model | genmodel stand-in | QA decode bandwidth, TB/s: GenZ shape / stand-in | "
             "QA capacity, GB: GenZ shape / stand-in | 1,024,000-token bandwidth, TB/s: GenZ shape / stand-in | "
             "1,024,000-token capacity, TB: GenZ shape / stand-in |", "|---|---|---:|---:|---:|---:|"]
    for r in synthetic():
        lines.append(f"| {r['model']} | `{r['synthetic']}` | "
                     f"{_g(r['genz_qa_bw'] / 1e12)} / {_g(r['syn_qa_bw'] / 1e12)} | "
                     f"{_g(r['genz_qa_cap'] / 1e9)} / {_g(r['syn_qa_cap'] / 1e9)} | "
                     f"{_g(r['genz_long_bw'] / 1e12)} / {_g(r['syn_long_bw'] / 1e12)} | "
                     f"{_g(r['genz_long_cap'] / 1e12)} / {_g(r['syn_long_cap'] / 1e12)} |")
    return "\n".join(lines)


TABLES = {"bandwidth": table_bandwidth, "compute": table_compute, "capacity": table_capacity,
          "future": table_future, "synthetic": table_synthetic}


def main() -> None:
    for name, make in TABLES.items():
        print(f"<!-- table: {name} -->\n{make()}\n")


if __name__ == "__main__":
    main()
