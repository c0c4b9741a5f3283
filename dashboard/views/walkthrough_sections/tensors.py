"""Walkthrough section 7: from text to tensors (tokens, indices, the embedding lookup, a padded batch)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import resources
from dashboard.escape import escape_markdown
from dashboard.messages import as_sentence, shown_path, user_message
from dashboard.views.walkthrough_sections.code import show_model_code, show_training_step
from sentiment_core.analysis.lessons import basics as lessons
from sentiment_core.data.text import EOS, EOS_INDEX, PAD, PAD_INDEX, SOS, SOS_INDEX, UNK, UNK_INDEX, Tokenizer
from sentiment_core.data.treebank import TreebankError
from sentiment_core.runs.store import RunError

NEGATION = "This movie was actually neither that funny, nor super witty."


def show_tokens_and_indices(followed: lessons.FollowedSentence, vocab) -> None:
    st.subheader("Tokens")
    st.code(repr(followed.tokens), language="python", wrap_lines=True)
    st.caption(f"{len(followed.tokens)} tokens from spaCy's English rules, lowercased, as the vocabulary was built.")
    st.subheader("Indices")
    tokens = vocab.decode(followed.ids)
    table = pd.DataFrame({"token": tokens, "index": followed.ids,
                          "count in training sentences": [vocab.freqs.get(t, 0) for t in tokens]}).T
    table.columns = [f"t={t}" for t in range(len(tokens))]  # positions: a repeated token keeps its own column
    st.dataframe(table.astype(str), width="stretch")
    unknown = ", ".join(escape_markdown(word) for word in followed.unknown)  # the visitor's own words
    unknown_note = (f" Not in the vocabulary, so read as `{UNK}` (index {UNK_INDEX}): {unknown}."
                    if followed.unknown else " Every token is in the vocabulary.")
    st.caption(f"{SOS} ({SOS_INDEX}) and {EOS} ({EOS_INDEX}) mark the start and end, as in training. The vocabulary holds "
               f"{len(vocab):,} entries, built from the training sentences only.{unknown_note}")


EMBED_DIM, SHOWN_DIMS = 100, 6


def show_embedding(followed: lessons.FollowedSentence, vocab, runs) -> None:
    st.subheader("Embedding lookup")
    sources = {"untrained": f"a fresh nn.Embedding({len(vocab):,}, {EMBED_DIM}), seeded (what training starts from)"}
    for run in runs:
        if run.has_checkpoint and run.config is not None:
            sources[str(run.path)] = f"the embedding in run {run.name}'s checkpoint ({run.config.model.cell}, {run.state})"
    source = st.selectbox("Embedding table", list(sources), format_func=sources.get, key="wt_embedding_source")
    embed_vocab = vocab
    try:
        if source == "untrained":
            weight = lessons.seeded_embedding_weight(len(vocab), EMBED_DIM)
        else:
            embed_vocab, weight = resources.run_embedding(Path(source))
    except (RunError, OSError) as err:
        st.error(f"That run's word vectors could not be read: {user_message(err)} Choose another table.")
        return
    embed_ids = embed_vocab.encode(followed.tokens, add_sos_eos=True)
    rows = lessons.embedding_rows(embed_ids, weight)
    labels = [f"{t} ({i})" for t, i in zip(embed_vocab.decode(embed_ids), embed_ids)]
    st.dataframe(pd.DataFrame(rows[:, :SHOWN_DIMS].numpy(), index=labels,
                              columns=[f"dim {d}" for d in range(SHOWN_DIMS)]).round(4), width="stretch")
    st.caption(f"Row i of the table is the vector of token i: the sentence becomes a {tuple(rows.shape)} tensor "
               f"(the first {SHOWN_DIMS} of {rows.shape[1]} dimensions shown). A token that occurs twice gets the "
               "same row; training moves the rows of the words it sees.")


def show_padded_batches(followed: lessons.FollowedSentence, vocab, corpus) -> None:
    st.subheader("Into a padded batch")
    b1, b2 = st.columns(2)
    st.session_state.setdefault("wt_batch_size", 4)   # defaults through session_state: a link may set them
    st.session_state.setdefault("wt_batch_seed", 0)
    batch_size = b1.slider("batch size", 2, 16, key="wt_batch_size")
    batch_seed = int(b2.number_input("shuffle seed", 0, 10_000, key="wt_batch_seed"))
    train_ids = resources.train_sentence_ids(corpus)
    epoch = resources.padding_by_batch_size(corpus, (batch_size,))
    for column, bucketing in zip(st.columns(2), (True, False)):
        batch = lessons.batch_for_sentence(followed.ids, train_ids, batch_size, bucketing, seed=batch_seed)
        with column:
            st.markdown(f"**{'With' if bucketing else 'Without'} bucketing**")
            # Shown time-major (one column per sentence), as the tutorial printed its batches, so the
            # padding at each sentence's end lines up at the bottom.
            grid = pd.DataFrame({("your sentence" if m < 0 else f"train #{m}"): [vocab.itos[i] for i in row]
                                 for m, row in zip(batch.members, batch.tokens.tolist())})
            grid.index.name = "t"
            styled = grid.style.map(lambda token: "color: #bbb; background-color: #f3f3f3" if token == PAD else "")
            st.dataframe(styled, width="stretch", height=min(len(grid), 40) * 35 + 38)
            share = epoch["bucketed" if bucketing else "unbucketed"][0]
            st.caption(f"tokens {tuple(batch.tokens.shape)} (B, T), padded with {PAD} (index {PAD_INDEX}); "
                       f"{batch.padding:.0%} of this batch is padding, {share:.1%} over one epoch of training "
                       f"sentences at batch size {batch_size}.")
    st.markdown(
        "Bucketing draws the batch from sentences of similar length, so the model spends less time reading "
        "padding. The tutorial's loop reads padding as if it were words; this project's models can also stop "
        "each sentence's state at its true length.")


def show_text_to_tensors(runs) -> None:
    state = resources.treebank_state()
    if state.folder is None:
        st.warning("This section needs the Stanford Sentiment Treebank (the vocabulary and the training "
                   "sentences). Open **Home** (first in the menu) to download it or point the app at it.")
        return
    try:
        corpus = resources.corpus_for(state)
    except (TreebankError, OSError) as err:
        st.error(f"The treebank in {shown_path(state.folder)} could not be read: {user_message(err)}")
        return
    vocab = resources.vocabulary(corpus, 1)
    st.session_state.setdefault("wt_sentence", NEGATION)
    text = st.text_input("Sentence to follow", key="wt_sentence")
    try:
        followed = lessons.follow_sentence(text, Tokenizer(), vocab)
    except ValueError as err:
        st.error(as_sentence(err))
        return
    show_tokens_and_indices(followed, vocab)
    show_embedding(followed, vocab, runs)
    show_padded_batches(followed, vocab, corpus)
    show_model_code(len(vocab))
    show_training_step(resources.train_sentence_ids(corpus), [fine for _, fine, _ in corpus.sentences["train"]],
                       len(vocab))
