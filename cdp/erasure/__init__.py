"""Erasure (`cdp forget`) and suppression of erased people at landing; see README "Erasure"."""
