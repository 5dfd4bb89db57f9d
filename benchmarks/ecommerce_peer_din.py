"""Our DIN side by side with DeepCTR-Torch's DIN on exactly the same split, training examples and negatives.

The peer is installed for this benchmark only (``.venv/bin/pip install deepctr-torch --no-deps``); it is never a
dependency of ranksuite. Both models see:

- the same :func:`prepare` (leave-last-out split, the valid/test candidate lists: the held-out item + 99 sampled
  negatives per user, seeded by ``--seed``);
- the same training examples: :func:`training_examples` (every train position a positive with its history prefix,
  ``--negatives`` sampled negatives each, seeded), the same number of epochs, batch size and learning rate (Adam,
  1e-3 by default: DeepCTR's ``compile("adam")`` is ``torch.optim.Adam`` at 1e-3; ours is the shared trainer's
  AdamW with weight decay 0, 10% warmup and linear decay);
- the same model selection: after every epoch, AUC on the same 2,000 validation users (seeded subset); the best
  epoch is kept and scored on the test candidates with *our* metrics (``ranking_metrics``: AUC, GAUC, NDCG@10,
  HR@10), overall and on the long-tail users.

Item features. Ours: ``[item id ; mean of up to 4 category ids ; brand]`` embeddings. DeepCTR's DIN takes one id per
field (a multi-valued target category is not part of its attention), so the peer gets ``item_id``, ``cate_id`` (the
most specific of the item's first 4 category ids, i.e. the last non-zero one) and ``brand_id``, each with the same
embedding size, for the target and (``hist_*``) for every behaviour, attention over all three. Its other settings
are DeepCTR's DIN defaults except the layer sizes, set to the DIN paper's (and ours): attention MLP 80-40 (Dice),
DNN 200-80 (ReLU), l2 on embeddings 1e-6, embedding init std 1e-4. DeepCTR masks keys by length from the left, so
its histories are right-padded (ours are left-padded); both keep the last ``--max-len`` behaviours.

Run (Beauty, 3 seeds)::

    .venv/bin/python benchmarks/ecommerce_peer_din.py --data ../shared/data/ecommerce/amazon_s3rec/beauty \
        --seeds 0 1 2 --out benchmarks/results/ecommerce_peer_din_beauty.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ranksuite.domains.ecommerce.data import build_batch, long_tail_users
from ranksuite.domains.ecommerce.evaluate import evaluate_model
from ranksuite.domains.ecommerce.model import ModelConfig
from ranksuite.domains.ecommerce.train import (
    METRIC_KEYS,
    load_dataset,
    load_model,
    prepare,
    ranking_metrics,
    train_ecommerce,
    training_examples,
)
from ranksuite.shared.training import TrainConfig


def peer_item_table(prep) -> tuple[np.ndarray, np.ndarray]:
    """Per item id: the most specific category id among the first 4 (0 = none), and the brand id."""
    cats = prep.features.categories
    nz = cats > 0
    last = np.where(nz.any(1), cats.shape[1] - 1 - np.argmax(nz[:, ::-1], axis=1), 0)
    cate = np.where(nz.any(1), cats[np.arange(cats.shape[0]), last], 0)
    return cate, prep.features.brand


def peer_inputs(hist, rows, targets, ends, max_len, cate, brand) -> dict[str, np.ndarray]:
    """DeepCTR's input dict: target fields, right-padded ``hist_*`` sequences and ``seq_length``."""
    nb = build_batch(hist, rows, targets, max_len=max_len, ends=ends)
    left = nb["hist_items"]
    length = nb["hist_len"]
    cols = np.arange(max_len)
    src = cols[None, :] + (max_len - length)[:, None]
    valid = cols[None, :] < length[:, None]
    right = np.where(valid, np.take_along_axis(left, np.minimum(src, max_len - 1), axis=1), 0)
    t = np.asarray(targets)
    return {
        "item_id": t,
        "cate_id": cate[t],
        "brand_id": brand[t],
        "hist_item_id": right,
        "hist_cate_id": cate[right],
        "hist_brand_id": brand[right],
        "seq_length": length,
    }


def build_peer(prep, args, seed: int):
    from deepctr_torch.inputs import SparseFeat, VarLenSparseFeat
    from deepctr_torch.models import DIN as PeerDIN

    cate, brand = peer_item_table(prep)
    vocab = {"item_id": prep.n_items, "cate_id": int(cate.max()) + 1, "brand_id": int(brand.max()) + 1}
    feats = [SparseFeat(k, v, embedding_dim=args.dim) for k, v in vocab.items()]
    feats += [
        VarLenSparseFeat(
            SparseFeat(f"hist_{k}", v, embedding_dim=args.dim, embedding_name=k),
            maxlen=args.max_len,
            length_name="seq_length",
        )
        for k, v in vocab.items()
    ]
    model = PeerDIN(
        feats,
        list(vocab),
        att_hidden_size=(80, 40),
        dnn_hidden_units=(200, 80),
        seed=seed,
        device="cpu",
    )
    model.compile(torch.optim.Adam(model.parameters(), lr=args.lr), "binary_crossentropy")
    return model, cate, brand


def peer_scores(model, hist, rows, items, max_len, cate, brand, chunk_users: int = 2000) -> np.ndarray:
    u, t = items.shape
    out = np.empty((u, t), dtype=np.float64)
    for s in range(0, u, chunk_users):
        sl = slice(s, s + chunk_users)
        n = items[sl].shape[0]
        x = peer_inputs(hist, np.repeat(rows[sl], t), items[sl].reshape(-1), None, max_len, cate, brand)
        out[sl] = model.predict(x, batch_size=8192).reshape(n, t)
    return out


def run_peer(prep, args, seed: int) -> dict:
    torch.manual_seed(seed)
    model, cate, brand = build_peer(prep, args, seed)
    hist = prep.split.histories("train")
    ex = training_examples(hist, prep.n_items, args.negatives, seed=seed)  # what our trainer uses
    x = peer_inputs(hist, ex.rows, ex.targets, ex.ends, args.max_len, cate, brand)
    y = ex.labels.astype(np.float32)
    # validation: the same 2,000-user seeded subset our trainer evaluates on (train.make_evaluator)
    vh = prep.split.histories("valid")
    vc = prep.candidates["valid"]
    sel = np.arange(vc.user_ids.size)
    if args.eval_users and sel.size > args.eval_users:
        sel = np.sort(np.random.default_rng([seed, 3]).choice(sel, args.eval_users, replace=False))
    vrows = vh.rows_of(vc.user_ids[sel])
    best, best_state, history = -1.0, None, []
    t0 = time.time()
    train_s = 0.0
    for epoch in range(args.epochs):
        t1 = time.time()
        torch.manual_seed(seed * 1000 + epoch)  # DeepCTR's DataLoader shuffles with torch's RNG
        model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0, shuffle=True)
        train_s += time.time() - t1
        v = ranking_metrics(
            vc.user_ids[sel], peer_scores(model, vh, vrows, vc.items[sel], args.max_len, cate, brand)
        )
        history.append({"epoch": epoch + 1, **v})
        print(f"  peer seed {seed} epoch {epoch + 1}: valid auc {v['auc']:.4f}", file=sys.stderr, flush=True)
        if v["auc"] > best:
            best = v["auc"]
            best_state = {k: p.detach().clone() for k, p in model.state_dict().items()}
    model.load_state_dict(best_state)
    th = prep.split.histories("test")
    tc = prep.candidates["test"]
    trows = th.rows_of(tc.user_ids)
    scores = peer_scores(model, th, trows, tc.items, args.max_len, cate, brand)
    tail = np.isin(tc.user_ids, long_tail_users(prep.split).user_ids)
    return {
        "overall": ranking_metrics(tc.user_ids, scores),
        "long_tail": ranking_metrics(tc.user_ids[tail], scores[tail]),
        "valid_history": history,
        "train_samples_per_s": len(ex) * args.epochs / max(train_s, 1e-9),
        "seconds": time.time() - t0,
    }


def run_ours(prep, args, seed: int, out_dir: Path) -> dict:
    mc = ModelConfig(architecture="din", dim=args.dim, max_len=args.max_len)
    tc = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=0.0,
        seed=seed,
        checkpoint_every=10**9,
        log_every=50,
    )
    t0 = time.time()
    res = train_ecommerce(
        None,
        out_dir,
        mc,
        tc,
        negatives=args.negatives,
        eval_users=args.eval_users,
        progress=False,
        prepared=prep,
    )
    ev = evaluate_model(load_model(res.model_dir), prep)
    return {
        "overall": ev["overall"],
        "long_tail": ev["long_tail"],
        "best_step": res.best_step,
        "train_samples_per_s": res.samples_per_s,
        "seconds": time.time() - t0,
    }


def summarize(runs: list[dict]) -> dict:
    out = {}
    for part in ("overall", "long_tail"):
        out[part] = {
            k: {
                "mean": float(np.mean([r[part][k] for r in runs])),
                "std": float(np.std([r[part][k] for r in runs], ddof=1)) if len(runs) > 1 else 0.0,
            }
            for k in METRIC_KEYS
        }
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=2048)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--max-len", type=int, default=20)
    ap.add_argument("--negatives", type=int, default=4)
    ap.add_argument("--eval-users", type=int, default=2000)
    ap.add_argument(
        "--max-users", type=int, default=None, help="seeded subset of users (as ecommerce_table.py)"
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", default="runs/ecommerce-peer")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    import deepctr_torch

    results: dict = {
        "command": " ".join(sys.argv),
        "args": vars(args),
        "peer": f"deepctr-torch {deepctr_torch.__version__}",
        "torch": torch.__version__,
        "machine": f"{platform.machine()} CPU, {torch.get_num_threads()} threads",
        "ours": [],
        "deepctr": [],
    }
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from ecommerce_table import subsample

    data = subsample(load_dataset(args.data), args.max_users)
    for seed in args.seeds:
        prep = prepare(data, seed=seed)
        print(f"seed {seed}: ours ({data.name})", file=sys.stderr, flush=True)
        results["ours"].append(run_ours(prep, args, seed, Path(args.runs) / f"{data.name}-din-s{seed}"))
        print(f"seed {seed}: deepctr", file=sys.stderr, flush=True)
        results["deepctr"].append(run_peer(prep, args, seed))
        results["summary"] = {k: summarize(results[k]) for k in ("ours", "deepctr")}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=1))
        for k in ("ours", "deepctr"):
            r = results[k][-1]
            print(
                f"  {k:8s} overall auc {r['overall']['auc']:.4f} gauc {r['overall']['gauc']:.4f} "
                f"ndcg@10 {r['overall']['ndcg@10']:.4f} | long tail auc {r['long_tail']['auc']:.4f} "
                f"gauc {r['long_tail']['gauc']:.4f}",
                file=sys.stderr,
                flush=True,
            )


if __name__ == "__main__":
    main()
