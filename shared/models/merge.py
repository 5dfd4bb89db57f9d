"""Model merging: linear and SLERP interpolation of two rankers fine-tuned from the same backbone.

Merged fine-tuned models can gain abilities neither parent had (the seed study of LLM domain adaptation); for
rankers, a merge of a source-trained and a domain-adapted model, or of the C and D cross-encoders, is a free
ensemble at the cost of one model. SLERP interpolates each weight tensor along the great circle between the two
(flattened) tensors, which keeps their norms where linear averaging would shrink them; tensors that are almost
parallel fall back to linear interpolation.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from ranksuite.shared.models import load_scorer
from ranksuite.shared.training.ir_train import resolve_init


def slerp(a: torch.Tensor, b: torch.Tensor, t: float, eps: float = 1e-6) -> torch.Tensor:
    if not a.is_floating_point():
        return a.clone()
    fa, fb = a.flatten().double(), b.flatten().double()
    na, nb = fa.norm(), fb.norm()
    if na < eps or nb < eps:
        return torch.lerp(a.double(), b.double(), t).to(a.dtype)
    cos = torch.clamp((fa / na) @ (fb / nb), -1.0, 1.0)
    omega = torch.arccos(cos)
    if omega.abs() < 1e-4:
        return torch.lerp(a.double(), b.double(), t).to(a.dtype)
    so = torch.sin(omega)
    out = (torch.sin((1 - t) * omega) / so) * fa + (torch.sin(t * omega) / so) * fb
    return out.view_as(a).to(a.dtype)


def merge_state_dicts(
    sa: dict[str, torch.Tensor], sb: dict[str, torch.Tensor], method: str = "linear", alpha: float = 0.5
) -> dict[str, torch.Tensor]:
    if set(sa) != set(sb):
        raise ValueError(
            "the two models have different parameters: merge models of the same architecture/backbone"
        )
    out = {}
    for k, va in sa.items():
        vb = sb[k]
        if va.shape != vb.shape:
            raise ValueError(f"parameter {k} differs in shape: {tuple(va.shape)} vs {tuple(vb.shape)}")
        if not va.is_floating_point():
            out[k] = va.clone()
        elif method == "linear":
            out[k] = torch.lerp(va.double(), vb.double(), alpha).to(va.dtype)
        elif method == "slerp":
            out[k] = slerp(va, vb, alpha)
        else:
            raise ValueError(f"unknown merge method {method!r}: use linear or slerp")
    return out


def merge_models(
    a: str | Path, b: str | Path, out: str | Path, method: str = "linear", alpha: float = 0.5
) -> Path:
    """Merge the models in folders ``a`` and ``b`` into ``out`` (same format as ``a``)."""
    pa, pb = resolve_init(str(a)), resolve_init(str(b))
    ma, mb = load_scorer(pa), load_scorer(pb)
    if ma.architecture != mb.architecture:
        raise ValueError(f"cannot merge a {ma.architecture} model with a {mb.architecture} model")
    ma.load_state_dict(merge_state_dicts(ma.state_dict(), mb.state_dict(), method, alpha))
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    meta = {"merge": {"a": str(pa), "b": str(pb), "method": method, "alpha": alpha}}
    return ma.save(out, extra_meta=meta)
