"""Seed experience banks (JSON Lines, one `Experience` per line), installed as the package `xolver.banks`."""
