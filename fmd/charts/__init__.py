"""Vega-Lite specs from plain rows: rows in, a dict out. No database, no Flask; Altair is imported inside each
builder (``import altair`` costs ~0.2 s, which binding fmd must not pay).
"""
