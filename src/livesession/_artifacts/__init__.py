"""The artifact writers: recorder, audit chain, sinks, metrics, timings."""
