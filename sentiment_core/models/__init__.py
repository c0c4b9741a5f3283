"""The models: the tutorial's RNN, the packed recurrences (torch and compiled), the classifier.

Import from here (`from sentiment_core.models import build_model`); the files behind it may move.
"""
from sentiment_core.models.classifier import (GATE_NAMES, STEPS, DirectionWeights, PackedGRU, PackedLayout,
                                              PackedLSTM, PackedTanhRNN, RecurrentClassifier, RecurrentEncoder,
                                              RNNLayer, SentimentRNN, Trace, TutorialClassifier, VectorFileError,
                                              build_model, count_parameters, gradient_through_time, gru_step,
                                              load_glove_vectors, lstm_step, packed_layout, rnn_step,
                                              run_packed, run_packed_autograd)
