"""Tests for ranksuite.shared.models: offline registry and the three scorers on the real MiniLM."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from ranksuite.shared.models import (
    BiEncoder,
    CrossEncoder,
    LateInteraction,
    OfflineModelError,
    build_scorer,
    list_models,
    load_scorer,
    resolve_backbone,
)

QUERIES = [
    "does a darker roast give you more of a buzz",
    "where did the idea of a leap year come from",
    "how to fix a flat bike tyre",
    "why does my espresso taste sour",
    "what makes a rainbow",
]
DOCS = [
    "Light versus dark roast. Dark roasts do not contain noticeably more caffeine.",
    "In 46 BC Julius Caesar introduced a calendar of 365 days with an extra day added every fourth year.",
    "Under-inflated tyres feel sluggish and are more prone to pinch flats.",
    "If the water runs through too quickly the drink tastes sour and thin; if it runs too slowly it turns "
    "bitter, so the grind and dose matter a great deal for a balanced shot of espresso.",
    "Sunlight is refracted, reflected and dispersed in raindrops.",
]


# ----------------------------------------------------------------------------- registry


def test_hub_id_fails_at_once_listing_offline_names() -> None:
    start = time.perf_counter()
    with pytest.raises(OfflineModelError) as exc:
        resolve_backbone("sentence-transformers/all-MiniLM-L6-v2")
    assert time.perf_counter() - start < 1.0  # no network attempt, no retry loop
    msg = str(exc.value)
    for name in ("minilm", "mpnet", "smollm2"):
        assert name in msg
    assert "sentence-transformers/all-MiniLM-L6-v2" in msg


def test_hub_id_fails_in_build_scorer_too() -> None:
    for arch in ("cross", "bi", "colbert"):
        with pytest.raises(OfflineModelError):
            build_scorer(arch, "cross-encoder/ms-marco-MiniLM-L-6-v2")
    with pytest.raises(ValueError, match="unknown architecture"):
        build_scorer("sparse", "minilm")


def test_a_file_is_not_a_model(tmp_path: Path) -> None:
    f = tmp_path / "weights.bin"
    f.write_bytes(b"x")
    with pytest.raises(OfflineModelError, match="is a file"):
        resolve_backbone(str(f))
    with pytest.raises(OfflineModelError, match="no such model folder"):
        load_scorer(tmp_path / "nothing")
    with pytest.raises(OfflineModelError, match="cannot tell"):
        load_scorer(tmp_path)


def test_list_models_rows() -> None:
    rows = list_models()
    assert [r["name"] for r in rows] == ["minilm", "mpnet", "smollm2"]
    for r in rows:
        assert set(r) == {"name", "model", "installed", "size_mb", "source", "cached", "install"}
        assert isinstance(r["installed"], bool)
        assert isinstance(r["size_mb"], float) and r["size_mb"] >= 0
        assert str(r["source"]).startswith("PyPI: ")
        assert "pip install" in str(r["install"])
    minilm = rows[0]
    assert minilm["installed"] is True and minilm["cached"] is None and minilm["size_mb"] > 10


def test_minilm_resolves_to_a_local_folder() -> None:
    path = resolve_backbone("minilm")
    assert path.is_dir() and (path / "config.json").exists()
    assert resolve_backbone(None) == path  # the default backbone
    assert resolve_backbone(str(path)) == path


@pytest.mark.slow
def test_mpnet_resolves_to_a_folder() -> None:
    path = resolve_backbone("mpnet")  # reassembles the split zip once (~5 s), cached afterwards
    assert path.is_dir()
    config = json.loads((path / "config.json").read_text())
    assert config["model_type"] == "mpnet"
    assert resolve_backbone("mpnet") == path


@pytest.mark.slow
def test_smollm2_resolves_to_a_loadable_folder() -> None:
    from transformers import AutoConfig, AutoTokenizer

    path = resolve_backbone("smollm2")  # dequantises the GGUF once (~20 s), cached afterwards
    assert (path / "config.json").exists() and (path / "model.safetensors").exists()
    config = AutoConfig.from_pretrained(path)
    assert config.model_type == "llama"
    assert config.hidden_size == 576 and config.num_hidden_layers == 30
    tok = AutoTokenizer.from_pretrained(path)
    ids = tok("hello world")["input_ids"]
    assert len(ids) >= 2 and tok.decode(ids).strip().endswith("hello world")


# ----------------------------------------------------------------------------- the scorers on real MiniLM


@pytest.fixture(scope="module")
def minilm_scorers() -> dict[str, object]:
    torch.manual_seed(0)
    return {
        "cross": build_scorer("cross", "minilm", max_length=128),
        "bi": build_scorer("bi", "minilm", max_length=128),
        "colbert": build_scorer("colbert", "minilm", max_length=128),
    }


@pytest.mark.parametrize("arch", ["cross", "bi", "colbert"])
def test_score_shapes(minilm_scorers: dict, arch: str) -> None:
    model = minilm_scorers[arch]
    assert model.architecture == arch
    scores = model.score(QUERIES, DOCS, batch_size=2)
    assert isinstance(scores, np.ndarray) and scores.shape == (len(QUERIES),)
    assert scores.dtype == np.float32 and np.isfinite(scores).all()
    assert model.score([], []).shape == (0,)
    with pytest.raises(ValueError):
        model.score(QUERIES, DOCS[:2])
    groups = model.group_scores(QUERIES[:2], DOCS[:4])
    assert tuple(groups.shape) == (2, 2)
    if model.supports_in_batch:
        assert tuple(model.group_scores(QUERIES[:2], DOCS[:4], in_batch=True).shape) == (2, 4)
    else:
        with pytest.raises(ValueError, match="in-batch"):
            model.group_scores(QUERIES[:2], DOCS[:4], in_batch=True)


@pytest.mark.parametrize("arch", ["cross", "bi", "colbert"])
def test_scores_do_not_depend_on_batch_order(minilm_scorers: dict, arch: str) -> None:
    model = minilm_scorers[arch]
    pairs = [(q, d) for q in QUERIES for d in DOCS[:3]]
    base = model.score([p[0] for p in pairs], [p[1] for p in pairs], batch_size=4)
    perm = np.random.default_rng(0).permutation(len(pairs))
    shuffled = model.score([pairs[i][0] for i in perm], [pairs[i][1] for i in perm], batch_size=3)
    np.testing.assert_allclose(shuffled, base[perm], atol=1e-5, rtol=0)
    one_by_one = np.array([model.score([q], [d])[0] for q, d in pairs[:5]])
    np.testing.assert_allclose(one_by_one, base[:5], atol=1e-5, rtol=0)


@pytest.mark.parametrize("arch", ["cross", "bi", "colbert"])
def test_save_and_load_round_trip(minilm_scorers: dict, arch: str, tmp_path: Path) -> None:
    model = minilm_scorers[arch]
    folder = model.save(tmp_path / arch, extra_meta={"note": "round trip"})
    meta = json.loads((folder / "ranksuite.json").read_text())
    assert meta["architecture"] == arch and meta["backbone"] == "minilm" and meta["note"] == "round trip"
    loaded = load_scorer(folder)
    assert type(loaded) is type(model)
    np.testing.assert_allclose(loaded.score(QUERIES, DOCS), model.score(QUERIES, DOCS), atol=1e-5, rtol=0)


def test_sentence_transformers_cross_encoder_loads_our_folder(minilm_scorers: dict, tmp_path: Path) -> None:
    from sentence_transformers import CrossEncoder as STCrossEncoder

    ours: CrossEncoder = minilm_scorers["cross"]
    folder = ours.save(tmp_path / "cross")
    st = STCrossEncoder(str(folder), device="cpu", local_files_only=True, activation_fn=torch.nn.Identity())
    theirs = st.predict(list(zip(QUERIES, DOCS, strict=True)), activation_fn=torch.nn.Identity())
    np.testing.assert_allclose(np.asarray(theirs), ours.score(QUERIES, DOCS), atol=1e-4, rtol=0)
    # a plain HF sequence-classification folder (no ranksuite.json) also loads as a cross-encoder
    (folder / "ranksuite.json").unlink()
    assert isinstance(load_scorer(folder), CrossEncoder)


def test_sentence_transformer_loads_our_bi_encoder(minilm_scorers: dict, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    ours: BiEncoder = minilm_scorers["bi"]
    folder = ours.save(tmp_path / "bi")
    st = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    q = st.encode(QUERIES, normalize_embeddings=True)
    d = st.encode(DOCS, normalize_embeddings=True)
    cosine = (q * d).sum(-1)
    np.testing.assert_allclose(cosine, ours.score(QUERIES, DOCS), atol=1e-5, rtol=0)
    np.testing.assert_allclose(ours.encode(QUERIES), q, atol=1e-5, rtol=0)
    (folder / "ranksuite.json").unlink()
    assert isinstance(load_scorer(folder), BiEncoder)


def test_colbert_queries_are_padded_with_mask(minilm_scorers: dict) -> None:
    model: LateInteraction = minilm_scorers["colbert"]
    seen: list[dict] = []

    def capture(_module, _args, kwargs):
        seen.append({k: v.clone() for k, v in kwargs.items() if torch.is_tensor(v)})

    handle = model.encoder.register_forward_pre_hook(capture, with_kwargs=True)
    try:
        with torch.no_grad():
            q = model.encode_queries(["leap year", "why does my espresso taste sour"])
            model.encode_docs(["a short doc."])
    finally:
        handle.remove()
    assert tuple(q.shape) == (2, model.query_length, model.dim)
    assert torch.allclose(q.norm(dim=-1), torch.ones(2, model.query_length), atol=1e-5)
    tok = model.tokenizer
    q_ids, q_att = seen[0]["input_ids"], seen[0]["attention_mask"]
    assert tuple(q_ids.shape) == (2, model.query_length)
    assert bool(q_att.all())  # [MASK] padding is attended to (query augmentation)
    assert (q_ids[:, 0] == tok.cls_token_id).all()
    assert (q_ids[:, 1] == tok.convert_tokens_to_ids("[unused0]")).all()
    text_len = len(tok("leap year")["input_ids"]) + 1  # [CLS] [Q] leap year [SEP]
    assert (q_ids[0, text_len:] == tok.mask_token_id).all()
    assert q_ids[0, text_len - 1] == tok.sep_token_id
    assert (q_ids[0, :text_len] != tok.mask_token_id).all()
    assert not (q_ids == tok.pad_token_id).any()
    d_ids = seen[1]["input_ids"]
    assert d_ids[0, 1] == tok.convert_tokens_to_ids("[unused1]")
    assert not (d_ids == tok.mask_token_id).any()


def test_zero_shot_bi_encoder_prefers_the_relevant_demo_document(demo_dir: Path) -> None:
    from ranksuite.shared.data import load_beir

    coll = load_beir(demo_dir, "test")
    docs, queries = coll.doc_texts(), coll.query_texts()
    model = BiEncoder.from_backbone("minilm")
    query = queries["q008"]  # leap year; d089 (the Julian calendar) is judged 2
    relevant, irrelevant = docs["d089"], docs["d003"]  # d003: tyre pressure for cycling
    s = model.score([query, query], [relevant, irrelevant])
    assert s[0] > s[1] + 0.1
    query = queries["q004"]  # darker roast and caffeine; d064 is judged 2
    s = model.score([query, query], [docs["d064"], docs["d003"]])
    assert s[0] > s[1]
