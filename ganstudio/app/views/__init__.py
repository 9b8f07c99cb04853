"""Widgets that draw what they are given: no training state, no torch."""
