"""The one trainer every scorer and every domain uses.

It owns the training concerns — data order, AdamW with warmup and linear decay, gradient accumulation and clipping,
bf16 autocast on CUDA, evaluation with early stopping and best-model keeping, atomic checkpoints with exact resume,
multi-process training under torchrun, JSON logs, a progress bar and a plot — while a domain supplies only:

- ``examples``: any sequence (list, frame rows) of training examples;
- ``step_fn(model, examples) -> loss`` (or ``(loss, {"tokens": n})``): the loss of a micro-batch, a mean;
- ``evaluate(model) -> {metric: value}`` (optional): dev-set quality, higher or lower is better per config;
- ``save_model(model, folder)``: how the domain's model is saved (e.g. ``Scorer.save``).

Exact resume: the data order of epoch ``e`` is a permutation seeded by ``(seed, e)``, and a checkpoint holds the
model, optimizer, scheduler, step and every RNG state, so a run killed at any point and resumed with ``resume=True``
ends in the same weights as one that was never interrupted.

The best model wins: the model is evaluated before the first step, and ``model/`` at the end is the best one seen
(the starting point included), so fine-tuning can never hand back something worse than it was given.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ranksuite.shared.data.atomic import atomic_write, atomic_write_json
from ranksuite.shared.device import autocast, pick_device, seed_everything
from ranksuite.shared.training import distributed as D
from ranksuite.shared.training.config import TrainConfig

StepFn = Callable[[torch.nn.Module, list[Any]], "torch.Tensor | tuple[torch.Tensor, dict[str, float]]"]
EvalFn = Callable[[torch.nn.Module], dict[str, float]]
SaveFn = Callable[[torch.nn.Module, Path], Any]

CHECKPOINT = "checkpoint.pt"


@dataclass
class TrainResult:
    run_dir: Path
    model_dir: Path
    steps: int
    best: dict[str, float] | None
    best_step: int | None
    initial: dict[str, float] | None
    stopped_early: bool
    samples_per_s: float
    history: list[dict[str, Any]] = field(default_factory=list)


def _save_dir_atomically(save: SaveFn, model: torch.nn.Module, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    save(model, tmp)
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


class Trainer:
    def __init__(
        self,
        model: torch.nn.Module,
        examples: Sequence[Any],
        step_fn: StepFn,
        save_model: SaveFn,
        run_dir: str | Path,
        config: TrainConfig | None = None,
        evaluate: EvalFn | None = None,
    ) -> None:
        self.config = config or TrainConfig()
        self.examples = examples
        self.step_fn = step_fn
        self.save_model = save_model
        self.evaluate_fn = evaluate
        self.run_dir = Path(run_dir)
        device = pick_device(self.config.device)
        self.rank, self.world_size = D.init_from_env(device)
        self.device = D.local_device(device)
        self.model = model.to(self.device)

    # -- data order ------------------------------------------------------------------------------------------
    @property
    def steps_per_epoch(self) -> int:
        return max(1, len(self.examples) // self.config.batch_size)

    @property
    def total_steps(self) -> int:
        if self.config.max_steps is not None:
            return self.config.max_steps
        return max(1, math.ceil(self.config.epochs * self.steps_per_epoch))

    def batch_indices(self, step: int) -> list[int]:
        """The global batch of ``step``: a slice of epoch ``step // steps_per_epoch``'s seeded permutation."""
        epoch, within = divmod(step, self.steps_per_epoch)
        perm = np.random.default_rng([self.config.seed, epoch]).permutation(len(self.examples))
        bs = min(self.config.batch_size, len(self.examples))
        return perm[within * bs : (within + 1) * bs].tolist()

    def micro_batches(self, step: int) -> list[list[Any]]:
        """This process's micro-batches of ``step``: the global batch cut into grad_accum x world_size shards."""
        idx = self.batch_indices(step)
        parts = self.config.grad_accum * self.world_size
        if len(idx) % parts:
            raise ValueError(
                f"batch size {len(idx)} does not split into {self.config.grad_accum} accumulation steps x "
                f"{self.world_size} processes; choose a batch size divisible by {parts}"
            )
        size = len(idx) // parts
        shards = [idx[i * size : (i + 1) * size] for i in range(parts)]
        mine = shards[self.rank :: self.world_size]
        return [[self.examples[i] for i in shard] for shard in mine]

    # -- optimisation ----------------------------------------------------------------------------------------
    def _optimizer(self) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
        decay, no_decay = [], []
        for name, p in self.model.named_parameters():
            if p.requires_grad:
                (no_decay if p.ndim < 2 or "norm" in name.lower() else decay).append(p)
        opt = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": self.config.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=self.config.lr,
        )
        total, warm = self.total_steps, int(self.config.warmup_ratio * self.total_steps)

        def schedule(step: int) -> float:
            if step < warm:
                return (step + 1) / (warm + 1)
            return max(0.0, (total - step) / max(1, total - warm))

        return opt, torch.optim.lr_scheduler.LambdaLR(opt, schedule)

    # -- checkpoints -----------------------------------------------------------------------------------------
    def _rng_state(self) -> dict[str, Any]:
        state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def _set_rng_state(self, state: dict[str, Any]) -> None:
        random.setstate(state["python"])
        np.random.set_state(state["numpy"])
        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])

    def _checkpoint(self, step: int, opt: torch.optim.Optimizer, sched: Any, state: dict[str, Any]) -> None:
        if self.rank != 0:
            return
        payload = {
            "step": step,
            "model": self.model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "rng": self._rng_state(),
            "state": state,
            "config": self.config.to_dict(),
        }
        atomic_write(self.run_dir / CHECKPOINT, lambda p: torch.save(payload, p))

    # -- logging ---------------------------------------------------------------------------------------------
    def _log(self, entry: dict[str, Any]) -> None:
        if self.rank == 0:
            with open(self.run_dir / "log.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry) + "\n")

    def _evaluate(self) -> dict[str, float] | None:
        if self.evaluate_fn is None:
            return None
        result = None
        if self.rank == 0:
            was = self.model.training
            self.model.eval()
            with torch.no_grad(), autocast(self.device, self.config.bf16):
                result = {k: float(v) for k, v in self.evaluate_fn(self.model).items()}
            self.model.train(was)
        return D.broadcast_object(result)  # type: ignore[return-value]

    def _better(self, value: float, best: float | None) -> bool:
        if best is None:
            return True
        return value > best if self.config.greater_is_better else value < best

    # -- the loop --------------------------------------------------------------------------------------------
    def fit(self, resume: bool = False, progress: bool = True) -> TrainResult:
        cfg = self.config
        self.run_dir.mkdir(parents=True, exist_ok=True)
        seed_everything(cfg.seed + self.rank)
        opt, sched = self._optimizer()
        state: dict[str, Any] = {
            "best": None,
            "best_step": None,
            "initial": None,
            "bad_evals": 0,
            "history": [],
        }
        start = 0
        ckpt_path = self.run_dir / CHECKPOINT
        if resume and ckpt_path.exists():
            ckpt = torch.load(ckpt_path, map_location=self.device, weights_only=False)
            self.model.load_state_dict(ckpt["model"])
            opt.load_state_dict(ckpt["optimizer"])
            sched.load_state_dict(ckpt["scheduler"])
            self._set_rng_state(ckpt["rng"])
            state, start = ckpt["state"], ckpt["step"]
            if self.rank == 0:  # drop log lines written after the checkpoint: they will be redone
                self._rewrite_log(start)
        else:
            if self.rank == 0:
                (self.run_dir / "log.jsonl").unlink(missing_ok=True)
                atomic_write_json(self.run_dir / "config.json", cfg.to_dict())
            initial = self._evaluate()
            if initial is not None:
                state.update(initial=initial, best=initial, best_step=0)
                state["history"].append({"step": 0, "eval": initial})
                self._log({"step": 0, "eval": initial})
                if self.rank == 0:
                    _save_dir_atomically(self.save_model, self.model, self.run_dir / "best")
        eval_every = cfg.eval_every or self.steps_per_epoch
        total = self.total_steps
        self.model.train()
        params = [p for p in self.model.parameters() if p.requires_grad]
        bar = tqdm(
            total=total, initial=start, desc="training", disable=not progress or self.rank != 0, unit="step"
        )
        t0, seen, tokens, window_loss, window_n = time.time(), 0, 0.0, 0.0, 0
        # loss components a step function reports (e.g. label_loss, kd_loss), averaged per log window
        window_parts: dict[str, float] = {}
        stopped = False
        for step in range(start, total):
            micro = self.micro_batches(step)
            step_loss = 0.0
            for examples in micro:
                with autocast(self.device, cfg.bf16):
                    out = self.step_fn(self.model, examples)
                loss, stats = out if isinstance(out, tuple) else (out, {})
                (loss / len(micro)).backward()
                step_loss += float(loss.detach()) / len(micro)
                seen += len(examples) * self.world_size
                tokens += stats.get("tokens", 0.0) * self.world_size
                for k, v in stats.items():
                    if k.endswith("_loss"):
                        window_parts[k] = window_parts.get(k, 0.0) + v / len(micro)
            D.average_gradients(params)
            if cfg.max_grad_norm:
                torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            window_loss, window_n = window_loss + step_loss, window_n + 1
            done = step + 1
            bar.update(1)
            bar.set_postfix(loss=f"{step_loss:.4f}")
            if done % cfg.log_every == 0 or done == total:
                elapsed = max(time.time() - t0, 1e-9)
                entry = {
                    "step": done,
                    "epoch": round(done / self.steps_per_epoch, 3),
                    "loss": window_loss / window_n,
                    "lr": sched.get_last_lr()[0],
                    "samples_per_s": seen / elapsed,
                }
                if tokens:
                    entry["tokens_per_s"] = tokens / elapsed
                entry.update({k: v / window_n for k, v in window_parts.items()})
                window_parts = {}
                state["history"].append(entry)
                self._log(entry)
                window_loss, window_n = 0.0, 0
            if self.evaluate_fn is not None and (done % eval_every == 0 or done == total):
                result = self._evaluate() or {}
                value = result.get(cfg.metric)
                improved = value is not None and self._better(value, (state["best"] or {}).get(cfg.metric))
                entry = {"step": done, "eval": result, "improved": improved}
                state["history"].append(entry)
                self._log(entry)
                if improved:
                    state.update(best=result, best_step=done, bad_evals=0)
                    if self.rank == 0:
                        _save_dir_atomically(self.save_model, self.model, self.run_dir / "best")
                else:
                    state["bad_evals"] += 1
                    stopped = cfg.patience is not None and state["bad_evals"] >= cfg.patience
                self._checkpoint(done, opt, sched, state)
            elif done % cfg.checkpoint_every == 0:
                self._checkpoint(done, opt, sched, state)
            if stopped:
                break
        bar.close()
        steps_done = step + 1 if total > start else start
        self._checkpoint(steps_done, opt, sched, state)
        samples_per_s = seen / max(time.time() - t0, 1e-9)
        model_dir = self.run_dir / "model"
        if self.rank == 0:
            if self.evaluate_fn is not None and (self.run_dir / "best").exists():
                shutil.rmtree(model_dir, ignore_errors=True)
                shutil.copytree(self.run_dir / "best", model_dir)
            else:
                _save_dir_atomically(self.save_model, self.model, model_dir)
            summary = {
                "steps": steps_done,
                "best_step": state["best_step"],
                "best": state["best"],
                "initial": state["initial"],
                "stopped_early": stopped,
                "samples_per_s": samples_per_s,
                "world_size": self.world_size,
                "device": str(self.device),
            }
            atomic_write_json(self.run_dir / "train_metrics.json", summary)
            from ranksuite.shared.training.plots import plot_history

            plot_history(state["history"], self.run_dir / "training.png", cfg.metric)
        D.barrier()
        return TrainResult(
            self.run_dir,
            model_dir,
            steps_done,
            state["best"],
            state["best_step"],
            state["initial"],
            stopped,
            samples_per_s,
            state["history"],
        )

    def _rewrite_log(self, upto: int) -> None:
        path = self.run_dir / "log.jsonl"
        if not path.exists():
            return
        keep = [
            ln for ln in path.read_text().splitlines() if ln.strip() and json.loads(ln).get("step", 0) <= upto
        ]
        path.write_text("".join(ln + "\n" for ln in keep))
