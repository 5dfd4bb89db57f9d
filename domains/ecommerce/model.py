"""E-commerce rankers: DNN, DIN and AW-MoE, built from three shared blocks.

Seed paper: Wang et al., "Attention Weighted Mixture of Experts with Contrastive Learning for Personalized Ranking
in E-commerce" (AW-MoE, JD.com, ICDE 2023). Its code is not public; this is a reconstruction from the paper's text.
Every choice that the paper leaves open is listed here.

Shared blocks (one copy each, reused by every model):

- :class:`ItemEmbedding` -- an item is ``[id embedding ; mean of its category embeddings ; brand embedding]``
  (``3 * dim`` wide). Id 0 is padding everywhere (padded behaviours, "no category", "no brand") and embeds to 0;
  the category mean is over the non-zero ids only (an item without categories gets a zero vector there).
- :class:`MLP` -- Linear -> ReLU -> Dropout layers, optionally a final Linear to ``out_dim``.
- :class:`ActivationUnit` -- DIN's local activation unit (Zhou et al., KDD 2018): an MLP over
  ``[e_j, t, e_j - t, e_j * t]`` gives one weight per behaviour ``e_j`` for the target ``t``. ``normalize="none"``
  keeps DIN's raw weights (no softmax: the intensity of the interest is kept); ``"softmax"`` turns them into a
  distribution over the unpadded behaviours. :meth:`ActivationUnit.pool` is attention pooling (sum of ``w_j e_j``).
  Speed: behaviours are embedded, and the activation MLP run, on the real (unmasked) behaviours only, then
  scattered back into ``[B, L]``; the result is exactly that of the padded computation (padding embeds to 0 and
  gets weight 0), at the cost of the real history lengths instead of ``B * max_len``.

Models (each ``forward(batch) -> {"logit": [B], ...}``, FuxiCTR style; ``batch`` holds torch tensors named as in
:func:`~ranksuite.domains.ecommerce.data.build_batch` with ``features``):

- :class:`DNN` -- embeddings, the mean of the (unpadded) behaviour embeddings, the target embedding, MLP.
- :class:`DIN` -- target attention pooling (raw DIN weights) instead of the mean, then the same MLP input
  ``[interest, target, interest * target]``.
- :class:`AWMoE` -- K expert MLPs over ``[interest, target, interest * target]`` where ``interest`` is the DIN
  target-attention pooling of the behaviour sequence (one shared activation unit feeds all experts: the paper feeds
  the sequence to every expert; sharing the pooling keeps the experts' cost that of K small MLPs, and they still
  differ by their own weights). The logit is ``sum_k gate_k * expert_k``.

  **Gate network** (the behaviour sequence is its input too): a *gate unit* maps each behaviour's embedding to K
  gate logits (``Linear(3 dim, K)``: one gate vector per behaviour), and its own *activation unit* (a second
  :class:`ActivationUnit`, same class, own weights, ``normalize="softmax"``) gives each behaviour a weight w.r.t.
  the target. The gate is ``softmax_K(sum_j a_j * g_j + g_t)`` with ``g_t`` the gate unit applied to the target
  (so a user with every behaviour masked still gets a target-dependent gate): a fine-grained, attention-weighted
  activation vector over the experts, summing to 1 over K. The softmax-normalised behaviour weights make the gate
  independent of the history length, which matters for comparing long-tail and active users.

  **Contrastive learning** (``contrastive=True``): random masking simulates long-tail users: each unpadded
  behaviour is dropped independently with probability ``mask_ratio`` (:meth:`AWMoE.gate_views`), twice, giving
  two views of the same (user, target). The gate outputs of the two views (the K-way softmax vectors, L2-normalised
  so that their dot product is a cosine similarity) form a ``[B, B]`` similarity matrix; the auxiliary loss is
  ``InBatchInfoNCE(temperature=tau)`` on it (diagonal = positive pairs, the other users in the batch = negatives).
  Only the positive examples of a training batch enter the CL term (each (user, position) appears once there, so
  the in-batch negatives are other histories, not the same history with a sampled negative target). The ranking
  loss (BCE) is computed on the unmasked sequence. Total loss = BCE + lambda * CL (see ``train.py``).
  ``contrastive=False`` is the ablation (no masking, no CL term).

Hyper-parameters (:class:`ModelConfig`): ``dim`` per field (item representation ``3 * dim``), ``hidden``
(MLP widths), ``attention_hidden`` (activation-unit widths, DIN's 80-40), ``experts`` (K), ``expert_hidden``,
``mask_ratio``, ``cl_weight`` (lambda), ``temperature`` (tau), ``dropout``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ARCHITECTURES = ("dnn", "din", "awmoe")


@dataclass
class ModelConfig:
    architecture: str = "awmoe"
    n_items: int = 2  # vocabulary sizes include the padding id 0
    n_categories: int = 1
    n_brands: int = 1
    dim: int = 16
    hidden: tuple[int, ...] = (200, 80)
    attention_hidden: tuple[int, ...] = (80, 40)
    dropout: float = 0.0
    experts: int = 4
    expert_hidden: tuple[int, ...] = (128, 64)
    contrastive: bool = True
    mask_ratio: float = 0.3
    cl_weight: float = 0.1
    temperature: float = 0.1
    max_len: int = 50
    max_categories: int = 4
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("hidden", "attention_hidden", "expert_hidden"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        d = dict(d)
        for k in ("hidden", "attention_hidden", "expert_hidden"):
            if k in d:
                d[k] = tuple(d[k])
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


# ----------------------------------------------------------------------------- shared blocks


class ItemEmbedding(nn.Module):
    """``[id ; mean(categories) ; brand]`` embeddings of item ids with their feature ids (0 = padding)."""

    def __init__(self, n_items: int, n_categories: int, n_brands: int, dim: int) -> None:
        super().__init__()
        self.item = nn.Embedding(n_items, dim, padding_idx=0)
        self.category = nn.Embedding(max(n_categories, 1), dim, padding_idx=0)
        self.brand = nn.Embedding(max(n_brands, 1), dim, padding_idx=0)
        for emb in (self.item, self.category, self.brand):
            nn.init.normal_(emb.weight, std=0.05)
            with torch.no_grad():
                emb.weight[0].zero_()
        self.out_dim = 3 * dim

    def forward(self, items: Tensor, categories: Tensor, brand: Tensor) -> Tensor:
        """``items`` [...], ``categories`` [..., C], ``brand`` [...] -> [..., 3 * dim]."""
        cat = self.category(categories)
        n = (categories > 0).sum(-1, keepdim=True).clamp(min=1).to(cat.dtype)
        return torch.cat([self.item(items), cat.sum(-2) / n, self.brand(brand)], dim=-1)


class MLP(nn.Module):
    """Linear -> ReLU -> Dropout per hidden width, then a Linear to ``out_dim`` when given."""

    def __init__(
        self, in_dim: int, hidden: tuple[int, ...], out_dim: int | None = None, dropout: float = 0.0
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = in_dim
        for h in hidden:
            layers += [nn.Linear(d, h), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            d = h
        if out_dim is not None:
            layers.append(nn.Linear(d, out_dim))
            d = out_dim
        self.net = nn.Sequential(*layers)
        self.out_dim = d

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class ActivationUnit(nn.Module):
    """DIN's activation unit: a weight per behaviour from ``MLP([e_j, t, e_j - t, e_j * t])``."""

    def __init__(self, dim: int, hidden: tuple[int, ...] = (80, 40), normalize: str = "none") -> None:
        super().__init__()
        if normalize not in ("none", "softmax"):
            raise ValueError("normalize must be 'none' or 'softmax'")
        self.mlp = MLP(4 * dim, hidden, 1)
        self.normalize = normalize

    def weights(self, keys: Tensor, query: Tensor, mask: Tensor) -> Tensor:
        """``keys`` [B, L, D], ``query`` [B, D], ``mask`` [B, L] (True = real behaviour) -> weights [B, L]."""
        # The first layer on [e, t, e - t, e * t] is W1 e + W2 t + W3 (e - t) + W4 (e * t)
        # = (W1 + W3) e + (W2 - W3) t + W4 (e * t): the same function, without the [B, L, 4D] concatenation,
        # and the target term computed once per row instead of once per behaviour. The MLP runs on the real
        # (unpadded) behaviours only: Amazon histories are mostly far shorter than max_len, so this is several
        # times less work than running it on every padded slot.
        first = self.mlp.net[0]
        w1, w2, w3, w4 = first.weight.split(keys.shape[-1], dim=1)
        bi, li = mask.nonzero(as_tuple=True)
        k = keys[bi, li]  # [N, D]
        q = query @ (w2 - w3).T + first.bias  # [B, H]
        x = k @ (w1 + w3).T + q[bi] + (k * query[bi]) @ w4.T
        s = self.mlp.net[1:](x).squeeze(-1)
        score = keys.new_zeros(mask.shape, dtype=s.dtype).index_put((bi, li), s)
        if self.normalize == "softmax":
            score = score.masked_fill(~mask, float("-inf"))
            w = torch.softmax(score.float(), dim=-1).to(keys.dtype)
            return torch.nan_to_num(w, nan=0.0)  # a row with no behaviour at all: all weights 0
        return score

    def pool(self, keys: Tensor, query: Tensor, mask: Tensor) -> Tensor:
        """Attention pooling: ``sum_j w_j * keys_j`` -> [B, D]."""
        w = self.weights(keys, query, mask)
        return torch.einsum("bl,bld->bd", w, keys)


# ----------------------------------------------------------------------------- models


class _Base(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = ItemEmbedding(config.n_items, config.n_categories, config.n_brands, config.dim)
        self.d = self.embedding.out_dim

    def embed(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """History [B, L, D], target [B, D], mask [B, L]."""
        m = batch["hist_mask"]
        idx = m.nonzero(as_tuple=True)  # embed the real behaviours only, then scatter into [B, L, D]
        hv = self.embedding(batch["hist_items"][idx], batch["hist_cats"][idx], batch["hist_brand"][idx])
        h = hv.new_zeros((*m.shape, self.d)).index_put(idx, hv)
        t = self.embedding(batch["target_items"], batch["target_cats"], batch["target_brand"])
        return h, t, m


class DNN(_Base):
    """Embedding & MLP baseline: mean-pooled behaviours + target -> MLP."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.mlp = MLP(3 * self.d, config.hidden, 1, config.dropout)

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        h, t, m = self.embed(batch)
        mf = m.unsqueeze(-1).to(h.dtype)
        interest = (h * mf).sum(1) / mf.sum(1).clamp(min=1)
        return {"logit": self.mlp(torch.cat([interest, t, interest * t], -1)).squeeze(-1)}


class DIN(_Base):
    """Deep Interest Network: target attention pooling (DIN weights, no softmax) -> MLP."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.attention = ActivationUnit(self.d, config.attention_hidden, "none")
        self.mlp = MLP(3 * self.d, config.hidden, 1, config.dropout)

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        h, t, m = self.embed(batch)
        interest = self.attention.pool(h, t, m)
        return {"logit": self.mlp(torch.cat([interest, t, interest * t], -1)).squeeze(-1)}


class AWMoE(_Base):
    """Attention-weighted mixture of K expert MLPs; the gate attends over the behaviour sequence (module doc)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        if config.experts < 1:
            raise ValueError("experts must be >= 1")
        if not 0.0 <= config.mask_ratio < 1.0:
            raise ValueError("mask_ratio must be in [0, 1)")
        self.attention = ActivationUnit(self.d, config.attention_hidden, "none")
        self.experts = nn.ModuleList(
            MLP(3 * self.d, config.expert_hidden, 1, config.dropout) for _ in range(config.experts)
        )
        self.gate_unit = nn.Linear(self.d, config.experts)
        self.gate_attention = ActivationUnit(self.d, config.attention_hidden, "softmax")

    def gate(self, h: Tensor, t: Tensor, mask: Tensor) -> Tensor:
        """``softmax_K(sum_j a_j * gate_unit(e_j) + gate_unit(t))`` -> [B, K]."""
        a = self.gate_attention.weights(h, t, mask)  # [B, L], sums to 1 over real behaviours
        logits = torch.einsum("bl,blk->bk", a, self.gate_unit(h)) + self.gate_unit(t)
        return torch.softmax(logits.float(), dim=-1)

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        h, t, m = self.embed(batch)
        interest = self.attention.pool(h, t, m)
        x = torch.cat([interest, t, interest * t], -1)
        expert_out = torch.cat([e(x) for e in self.experts], dim=-1)  # [B, K]
        g = self.gate(h, t, m)
        return {"logit": (g.to(expert_out.dtype) * expert_out).sum(-1), "gate": g}

    def random_mask(self, mask: Tensor) -> Tensor:
        """Drop each real behaviour with probability ``mask_ratio`` (torch's RNG: seeded and checkpointed)."""
        keep = torch.rand(mask.shape, device=mask.device) >= self.config.mask_ratio
        return mask & keep

    def gate_views(self, batch: dict[str, Tensor], rows: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Gate outputs [R, K] of two independently masked views of the same (history, target) rows."""
        if rows is not None:
            batch = {k: v[rows] for k, v in batch.items() if k.startswith(("hist_", "target_"))}
        h, t, m = self.embed(batch)
        return self.gate(h, t, self.random_mask(m)), self.gate(h, t, self.random_mask(m))

    def contrastive_loss(self, batch: dict[str, Tensor], rows: Tensor | None = None) -> Tensor:
        """InfoNCE (``InBatchInfoNCE``, G=1, temperature tau) between the two views' L2-normalised gates."""
        from ranksuite.shared.losses import InBatchInfoNCE

        g1, g2 = self.gate_views(batch, rows)
        sim = F.normalize(g1.float(), dim=-1) @ F.normalize(g2.float(), dim=-1).T
        return InBatchInfoNCE(temperature=self.config.temperature)(sim, None)


MODELS: dict[str, type[_Base]] = {"dnn": DNN, "din": DIN, "awmoe": AWMoE}


def build_model(config: ModelConfig) -> nn.Module:
    try:
        cls = MODELS[config.architecture]
    except KeyError:
        raise ValueError(
            f"unknown model {config.architecture!r}; choose one of {', '.join(ARCHITECTURES)}"
        ) from None
    return cls(config)
