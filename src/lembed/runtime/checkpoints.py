"""Load a model folder into transformers' native architecture: no remote code, no network.

Two hub checkpoints lembed serves were published for remote modelling code that lives in
another repository (``auto_map``): nomic-embed-text (``nomic-ai/nomic-bert-2048``) and
jina-embeddings-v3 (``jinaai/xlm-roberta-flash-implementation``). transformers >= 5 has
native ports of both (``nomic_bert``, ``jina_embeddings_v3``). Here their configs are
translated to the native config classes and their weights renamed to the native parameter
names; jina's task LoRA adapters are merged into the weights for the chosen task
(``W + B @ A * alpha / rank``, as its ``LoRAParametrization`` computes it). Loading is strict:
a missing or unexpected parameter is an error, never a silently random weight.

Any other folder loads with ``AutoModel.from_pretrained`` (``local_files_only``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from lembed.errors import BackendError, ValidationError, require

Format = Literal["auto", "nomic_bert", "jina_lora"]


def read_config(folder: Path) -> dict[str, Any]:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValidationError(f"cannot read {folder / 'config.json'}: {exc}") from exc
    if not isinstance(config, dict):
        raise ValidationError(f"{folder / 'config.json'} is not a JSON object")
    return config


def checkpoint_format(config: dict[str, Any]) -> Format:
    """Which loader a ``config.json`` needs."""
    if config.get("model_type") == "nomic_bert" and "n_embd" in config:
        return "nomic_bert"  # nomic-ai/nomic-bert-2048's GPT-2 style config
    archs = config.get("architectures") or []
    if "XLMRobertaLoRA" in archs or "lora_adaptations" in config:
        return "jina_lora"
    return "auto"


def tasks_of(folder: Path) -> tuple[str, ...]:
    """The task adapters a checkpoint carries (jina's ``lora_adaptations``), in id order."""
    return tuple(read_config(folder).get("lora_adaptations") or ())


def _refuse(config: dict[str, Any], expected: dict[str, Any], what: str) -> None:
    for key, want in expected.items():
        if key in config and config[key] != want:
            raise BackendError(
                f"{what}: config {key}={config[key]!r} is not supported (lembed maps this "
                f"checkpoint to transformers' native port, which needs {key}={want!r})"
            )


def nomic_config(config: dict[str, Any], transformers: Any) -> Any:
    """nomic-bert-2048's GPT-2 style keys → ``NomicBertConfig``."""
    _refuse(
        config,
        {
            "activation_function": "swiglu",
            "prenorm": False,
            "parallel_block": False,
            "qkv_proj_bias": False,
            "mlp_fc1_bias": False,
            "mlp_fc2_bias": False,
            "rotary_emb_fraction": 1.0,
            "rotary_emb_interleaved": False,
            "rotary_emb_scale_base": None,
            "rotary_scaling_factor": None,
            "use_rms_norm": False,
            "causal": False,
        },
        "nomic_bert",
    )
    hidden = int(config["n_embd"])
    return transformers.NomicBertConfig(
        vocab_size=int(config["vocab_size"]),
        hidden_size=hidden,
        num_hidden_layers=int(config["n_layer"]),
        num_attention_heads=int(config["n_head"]),
        intermediate_size=int(config.get("n_inner") or 4 * hidden),
        max_position_embeddings=int(config.get("n_positions", 8192)),
        type_vocab_size=int(config.get("type_vocab_size", 2)),
        layer_norm_eps=float(config.get("layer_norm_epsilon", 1e-12)),
        hidden_act="silu",
        pad_token_id=int(config.get("pad_token_id") or 0),
        rope_parameters={
            "rope_type": "default",
            "rope_theta": float(config.get("rotary_emb_base", 1000)),
        },
    )


def nomic_weights(hub: dict[str, Any], layers: int) -> dict[str, Any]:
    """nomic-bert-2048 parameter names → native ``NomicBertModel`` names."""
    out = {
        "embeddings.word_embeddings.weight": hub.pop("embeddings.word_embeddings.weight"),
        "embeddings.LayerNorm.weight": hub.pop("emb_ln.weight"),
        "embeddings.LayerNorm.bias": hub.pop("emb_ln.bias"),
    }
    if "embeddings.token_type_embeddings.weight" in hub:
        out["embeddings.token_type_embeddings.weight"] = hub.pop(
            "embeddings.token_type_embeddings.weight"
        )
    for i in range(layers):
        h, n = f"encoder.layers.{i}.", f"layers.{i}."
        q, k, v = hub.pop(h + "attn.Wqkv.weight").chunk(3, dim=0)
        out |= {
            n + "self_attn.q_proj.weight": q,
            n + "self_attn.k_proj.weight": k,
            n + "self_attn.v_proj.weight": v,
            n + "self_attn.o_proj.weight": hub.pop(h + "attn.out_proj.weight"),
            n + "mlp.up_proj.weight": hub.pop(h + "mlp.fc11.weight"),
            n + "mlp.gate_proj.weight": hub.pop(h + "mlp.fc12.weight"),
            n + "mlp.down_proj.weight": hub.pop(h + "mlp.fc2.weight"),
        }
        for old, new in (("norm1", "post_attention_layernorm"), ("norm2", "post_mlp_layernorm")):
            out[n + new + ".weight"] = hub.pop(h + old + ".weight")
            out[n + new + ".bias"] = hub.pop(h + old + ".bias")
    if hub:
        raise BackendError(
            f"nomic_bert checkpoint has parameters lembed does not map: {sorted(hub)[:5]}"
        )
    return out


def jina_config(config: dict[str, Any], transformers: Any) -> Any:
    """XLMRobertaFlashConfig (jina-embeddings-v3) → ``JinaEmbeddingsV3Config``."""
    _refuse(config, {"position_embedding_type": "rotary"}, "jina-embeddings-v3")
    return transformers.JinaEmbeddingsV3Config(
        vocab_size=int(config["vocab_size"]),
        hidden_size=int(config["hidden_size"]),
        num_hidden_layers=int(config["num_hidden_layers"]),
        num_attention_heads=int(config["num_attention_heads"]),
        intermediate_size=int(config["intermediate_size"]),
        hidden_act=str(config.get("hidden_act", "gelu")),
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        max_position_embeddings=int(config.get("max_position_embeddings", 8194)),
        type_vocab_size=int(config.get("type_vocab_size", 1)),
        layer_norm_eps=float(config.get("layer_norm_eps", 1e-5)),
        pad_token_id=int(config.get("pad_token_id", 1)),
        bos_token_id=int(config.get("bos_token_id", 0)),
        eos_token_id=int(config.get("eos_token_id", 2)),
        rope_parameters={
            "rope_type": "default",
            "rope_theta": float(config.get("rotary_emb_base", 20000.0)),
        },
    )


def merge_lora(hub: dict[str, Any], config: dict[str, Any], task: str | None) -> dict[str, Any]:
    """Plain weights from jina's parametrised ones, with ``task``'s LoRA merged in.

    ``name.parametrizations.weight.original`` + ``.0.lora_A``/``.0.lora_B`` become
    ``name.weight``: Linear ``W + B[t] @ A[t] * s``, Embedding ``W + A[t] @ B[t] * s``
    (A [tasks, num, rank], B [tasks, rank, dim]), ``s = lora_alpha / lora_rank``.
    """
    tasks = list(config.get("lora_adaptations") or [])
    if task is not None and task not in tasks:
        raise ValidationError(f"unknown task {task!r}: this model has {', '.join(tasks)}")
    index = tasks.index(task) if task is not None else None
    scale = float(config.get("lora_alpha", 1)) / float(config.get("lora_rank", 4))
    out: dict[str, Any] = {}
    suffix = ".parametrizations.weight.original"
    for key in list(hub):
        if not key.endswith(suffix):
            continue
        base = key.removesuffix(suffix)
        weight = hub.pop(key)
        a = hub.pop(f"{base}.parametrizations.weight.0.lora_A")
        b = hub.pop(f"{base}.parametrizations.weight.0.lora_B")
        if index is not None:
            embedding = base.startswith("embeddings.")  # word / token type embeddings
            delta = a[index] @ b[index] if embedding else b[index] @ a[index]
            weight = weight + delta.to(weight.dtype) * scale
        out[base + ".weight"] = weight
    return out | hub


def jina_weights(hub: dict[str, Any], config: dict[str, Any], task: str | None) -> dict[str, Any]:
    """jina-embeddings-v3 (``roberta.``-prefixed, LoRA-parametrised) → native names."""
    plain = merge_lora({k.removeprefix("roberta."): v for k, v in hub.items()}, config, task)
    out = {
        "embeddings.word_embeddings.weight": plain.pop("embeddings.word_embeddings.weight"),
        "embeddings.token_type_embeddings.weight": plain.pop(
            "embeddings.token_type_embeddings.weight"
        ),
        "embeddings.LayerNorm.weight": plain.pop("emb_ln.weight"),
        "embeddings.LayerNorm.bias": plain.pop("emb_ln.bias"),
    }
    for name in ("pooler.dense.weight", "pooler.dense.bias"):
        if name in plain:
            out[name] = plain.pop(name)
    for i in range(int(config["num_hidden_layers"])):
        h, n = f"encoder.layers.{i}.", f"layers.{i}."
        for part in ("weight", "bias"):
            q, k, v = plain.pop(f"{h}mixer.Wqkv.{part}").chunk(3, dim=0)
            out |= {
                f"{n}self_attn.q_proj.{part}": q,
                f"{n}self_attn.k_proj.{part}": k,
                f"{n}self_attn.v_proj.{part}": v,
                f"{n}self_attn.o_proj.{part}": plain.pop(f"{h}mixer.out_proj.{part}"),
                f"{n}mlp.fc1.{part}": plain.pop(f"{h}mlp.fc1.{part}"),
                f"{n}mlp.fc2.{part}": plain.pop(f"{h}mlp.fc2.{part}"),
                f"{n}post_attention_layernorm.{part}": plain.pop(f"{h}norm1.{part}"),
                f"{n}post_mlp_layernorm.{part}": plain.pop(f"{h}norm2.{part}"),
            }
    leftover = [k for k in plain if not k.startswith(("lm_head.", "classifier."))]
    if leftover:
        raise BackendError(f"jina checkpoint has parameters lembed does not map: {leftover[:5]}")
    return out


def read_safetensors(folder: Path) -> dict[str, Any]:
    """Every tensor of the folder's ``model.safetensors`` (or its shards), as torch tensors."""
    from safetensors.torch import load_file

    files = sorted(folder.glob("model*.safetensors"))
    if not files:
        raise BackendError(f"{folder}: no model.safetensors (lembed loads safetensors weights)")
    tensors: dict[str, Any] = {}
    for path in files:
        tensors |= load_file(str(path))
    return tensors


def _build(
    transformers: Any, native: Any, weights: dict[str, Any], attn: str | None, what: str
) -> Any:
    kwargs = {"attn_implementation": attn} if attn else {}
    model = transformers.AutoModel.from_config(native, **kwargs)
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise BackendError(
            f"{what}: weights do not fit the native architecture "
            f"(missing {list(missing)[:5]}, unexpected {list(unexpected)[:5]})"
        )
    return model.float().eval()


def load_transformer(
    folder: Path,
    *,
    task: str | None = None,
    trust_remote_code: bool = False,
    attn_implementation: str | None = None,
    auto_class: str = "AutoModel",
) -> Any:
    """The transformer in ``folder`` as a native transformers module, in eval mode.

    ``auto_class`` is the transformers class a plain checkpoint loads with (a cross-encoder:
    ``AutoModelForSequenceClassification``; see :mod:`lembed.runtime.cross_encoder`).

    ``task`` picks a LoRA task adapter (merged into the weights) on checkpoints that have
    them; it is an error elsewhere.
    """
    transformers: Any = require("transformers", "torch", "Loading a model with transformers")
    config = read_config(folder)
    kind = checkpoint_format(config)
    if task is not None and kind != "jina_lora":
        raise ValidationError(f"{folder.name} has no task adapters (asked for {task!r})")
    try:
        if kind == "nomic_bert":
            native = nomic_config(config, transformers)
            weights = nomic_weights(read_safetensors(folder), native.num_hidden_layers)
            return _build(transformers, native, weights, attn_implementation, "nomic_bert")
        if kind == "jina_lora":
            native = jina_config(config, transformers)
            weights = jina_weights(read_safetensors(folder), config, task)
            return _build(transformers, native, weights, attn_implementation, "jina-v3")
        return _auto(transformers, folder, trust_remote_code, attn_implementation, auto_class)
    except (BackendError, ValidationError):
        raise
    except Exception as exc:
        raise BackendError(f"cannot load {folder} with transformers: {exc}") from exc


def _auto(
    transformers: Any,
    folder: Path,
    trust_remote_code: bool,
    attn: str | None,
    auto_class: str = "AutoModel",
) -> Any:
    load: Callable[..., Any] = getattr(transformers, auto_class).from_pretrained
    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code, "local_files_only": True}
    if attn:
        try:
            return load(str(folder), attn_implementation=attn, **kwargs).eval()
        except (TypeError, ValueError):  # a model without that attention path
            pass
    return load(str(folder), **kwargs).eval()
