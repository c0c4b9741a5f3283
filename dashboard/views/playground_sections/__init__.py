"""The playground page's sections, one module each; the page file (views/playground.py) lays them out.

- common: what every section shares: the widget-key prefix, a run's shown name, a sentence's answer
  (or the sentence saying why there is none) and `Sentence`, what a one-sentence section is given.
- runs: choosing a run, and a quick model to train when the visitor has none.
- reading: the tokens the model sees, its answer, the prediction token by token.
- attributions: which words mattered (integrated gradients, gradient x input).
- whatif: each word removed or replaced (occlusion), and two versions of a sentence side by side.
- inside: the hidden units that move most, the gates, the whole state on demand.
- many: two runs on one sentence, and a table of predictions for many sentences.
"""
