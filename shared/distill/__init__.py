"""Distillation: teacher scores stored once, multi-stage schedules (C, D, C>D, D>C); the KD losses live in
:mod:`ranksuite.shared.losses` and students train with the shared trainer."""
