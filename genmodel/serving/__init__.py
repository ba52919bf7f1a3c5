"""Served traffic: continuous batching, chunked prefill, queueing, percentiles, goodput (docs/serving.md)."""
