"""Explore-page analyses (no streamlit): series, decomposition, patterns, outside factors, diagnostics.

One module per idea; heavy libraries (statsmodels, scipy) are imported inside the functions.
"""
