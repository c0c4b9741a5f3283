"""Training: the trainer, its losses, optimizers, probes and benchmarks.

Kept free of torch imports so that light readers below the trainer's callers (runs/metrics.py)
can name the trainer's event fields without loading torch.
"""

# The key of the sentence probes (sentence_probes.py) in epoch_end rows and a new run's train_begin.
SENTENCE_PROBES = "sentence_probes"
