"""One trainer for every scorer and domain (see :mod:`ranksuite.shared.training.trainer`)."""

from ranksuite.shared.training.config import TrainConfig
from ranksuite.shared.training.trainer import Trainer, TrainResult

__all__ = ["TrainConfig", "TrainResult", "Trainer"]
