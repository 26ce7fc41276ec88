"""Runnable fitting pipelines (``python -m fitting fit|evaluate ...``); public jaxgeci API only."""
