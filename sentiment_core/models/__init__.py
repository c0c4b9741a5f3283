"""The models: the tutorial's RNN, the packed recurrences (torch and compiled), the classifier.

Read in this order: tutorial.py (the seed model), packing.py (a batch laid out step by step),
recurrences.py (each cell's step and the fast loops; recurrences_torch.py, native.py and
recurrences.c behind it), classifier.py (the models `build_model` returns), vectors.py.
Import from here (`from sentiment_core.models import build_model`); the files behind it may move.
"""
from sentiment_core.models.classifier import (RecurrentClassifier, RecurrentEncoder, Trace, TutorialClassifier,
                                              build_model, count_parameters, gradient_through_time)
from sentiment_core.models.packing import PackedLayout, packed_layout
from sentiment_core.models.recurrences import (GATE_NAMES, STEPS, DirectionWeights, PackedGRU, PackedLSTM,
                                               PackedTanhRNN, gru_step, lstm_step, rnn_step, run_packed,
                                               run_packed_autograd)
from sentiment_core.models.tutorial import RNNLayer, SentimentRNN
from sentiment_core.models.vectors import VectorFileError, load_glove_vectors

__all__ = ["GATE_NAMES", "STEPS", "DirectionWeights", "PackedGRU", "PackedLSTM", "PackedLayout", "PackedTanhRNN",
           "RNNLayer", "RecurrentClassifier", "RecurrentEncoder", "SentimentRNN", "Trace", "TutorialClassifier",
           "VectorFileError", "build_model", "count_parameters", "gradient_through_time", "gru_step",
           "load_glove_vectors", "lstm_step", "packed_layout", "rnn_step", "run_packed", "run_packed_autograd"]
