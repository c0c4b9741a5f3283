"""Vocabulary: from tokens to indices. Size against min_freq, Zipf, lookups, coverage,
polarised words, and padding with and without bucketing."""
from __future__ import annotations

import streamlit as st

from dashboard import resources
from dashboard.charts import data as charts
from dashboard.escape import escape_markdown
from dashboard.messages import user_message
from sentiment_core.analysis.exploration import vocab_stats
from sentiment_core.data.text import LABEL_COUNTS, PAD_INDEX, SPECIALS, label_scheme

MIN_FREQS = (1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
TOP_KS = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000)
BATCH_SIZES = (4, 8, 16, 32, 64, 128, 256)
TUTORIAL_WORDS = ("film", "actor", "schwarzenegger", "spielberg")  # the words the tutorial looks up
EXAMPLE_BATCH_SIZE = 4  # as in the tutorial's printed batch
BATCH_SEED = "vocab_batch_seed"


def _draw_another_batch() -> None:
    st.session_state[BATCH_SEED] = st.session_state.get(BATCH_SEED, 0) + 1


st.title("Vocabulary")
st.markdown("A model cannot read words, only numbers: the vocabulary maps every training token to an index "
            "(and back), and the embedding layer turns each index into a vector. Words the vocabulary lacks "
            "all become `<unk>`.")
corpus = resources.require_corpus()
ranked = resources.ranked_counts(corpus)
full_freqs = resources.vocabulary(corpus, 1).freqs

min_freq = st.select_slider("min_freq: keep the words seen at least this often in the training sentences",
                            MIN_FREQS, value=1, key="vocab_min_freq")
vocab = resources.vocabulary(corpus, min_freq)
oov = resources.oov_rates(corpus, min_freq)
size_col, words_col, dev_col, test_col = st.columns(4)
size_col.metric("vocabulary size", f"{len(vocab):,}", help="Specials included, as the data command counts.")
words_col.metric("words", f"{len(vocab) - len(SPECIALS):,}")
dev_col.metric("dev tokens unknown", f"{oov['dev']:.2%}", help="Share of dev tokens that become <unk>.")
test_col.metric("test tokens unknown", f"{oov['test']:.2%}")
if len(vocab) == len(SPECIALS):
    top_word, top_count = ranked[0] if ranked else ("", 0)
    st.error(f"No training word occurs {min_freq:,} times or more (the most frequent, "
             f"'{escape_markdown(top_word)}', occurs "
             f"{top_count:,} times), so the vocabulary holds only the 4 specials and every word would be read "
             "as <unk>. Lower min_freq.")

size_tab, lookup_tab, coverage_tab, polar_tab, padding_tab = st.tabs(
    ["Size and Zipf", "Lookup", "Coverage", "Polarised words", "Padding"])

with size_tab:
    sizes = resources.vocab_size_curve(corpus, MIN_FREQS)
    st.plotly_chart(charts.vocab_size_chart(MIN_FREQS, sizes, min_freq), key="chart_vocab_size")
    words_once, tokens_once = vocab_stats.seen_once(full_freqs)
    st.caption(f"{words_once:.0%} of the distinct training words occur only once, yet they are only "
               f"{tokens_once:.1%} of the training tokens: min_freq 2 shrinks the vocabulary from {sizes[0]:,} "
               f"to {sizes[1]:,} entries at that small cost.")
    st.plotly_chart(charts.zipf_chart(ranked), key="chart_zipf")
    st.caption("Word counts fall roughly as 1 / rank (Zipf's law): a few words are everywhere, most are rare.")
    top_n = st.slider("Most frequent tokens to list", 10, 200, 30, step=10, key="vocab_top_n")
    total_tokens = sum(full_freqs.values())
    st.dataframe([{"index": vocab.stoi.get(word, 0), "token": word, "count": count,
                   "share of training tokens": f"{count / total_tokens:.2%}"}
                  for word, count in ranked[:top_n]], hide_index=True)

with lookup_tab:
    word_col, index_col = st.columns(2)
    with word_col:
        st.subheader("word → index (stoi)")
        word = st.text_input("Word", value="film", key="vocab_lookup_word")
        try:
            found = vocab_stats.lookup_word(vocab, word)
        except ValueError as err:
            st.error(user_message(err))
        else:
            if found.in_vocab:
                st.markdown(f"{escape_markdown(found.word)} → index **{found.index}**"
                            + (" (a special token)" if found.special else f", seen {found.count:,} times in training"))
            else:
                seen = f"seen only {found.count:,} times" if found.count else "never seen"
                st.warning(f"{escape_markdown(found.word)} is not in the vocabulary ({seen} in the training sentences, "
                           f"min_freq is {min_freq}): the model reads it as `<unk>`, index 0.")
        st.dataframe([{"word": w, "index": vocab.index(w), "count": full_freqs.get(w, 0)} for w in TUTORIAL_WORDS],
                     hide_index=True)
        st.caption("The words the tutorial looks up (index 0 means `<unk>`).")
    with index_col:
        st.subheader("index → word (itos)")
        index = st.number_input(f"Index (0 to {len(vocab) - 1:,})", 0, len(vocab) - 1, min(19, len(vocab) - 1),
                                key=f"vocab_lookup_index_{len(vocab)}")
        looked = vocab_stats.lookup_index(vocab, int(index))
        st.markdown(f"index **{looked.index}** → {escape_markdown(looked.word)}"
                    + (" (a special token)" if looked.special else f", seen {looked.count:,} times in training"))
        st.dataframe([{"index": i, "token": vocab.itos[i]} for i in range(min(20, len(vocab)))], hide_index=True)
        st.caption("The first 20 entries: the specials `<unk>`, `<pad>`, `<sos>`, `<eos>` at 0-3, "
                   "then tokens by falling count.")

with coverage_tab:
    st.markdown(f"At min_freq {min_freq}, **{oov['dev']:.2%}** of dev tokens and **{oov['test']:.2%}** of test "
                "tokens are not in the vocabulary and become `<unk>`.")
    ks = [k for k in TOP_KS if k < len(ranked)] + [len(ranked)]
    top_k = st.select_slider("k: the most frequent words", ks, value=1000 if 1000 in ks else ks[-1], key="vocab_top_k")
    shares = resources.top_k_coverage(corpus, tuple(ks))
    st.metric(f"training tokens covered by the top {top_k:,} words", f"{shares[ks.index(top_k)]:.1%}")
    st.plotly_chart(charts.coverage_chart(ks, shares, top_k), key="chart_coverage")

with polar_tab:
    st.markdown("Which words mark a class? For every word, the log-odds of using it in one class against all "
                "the others, smoothed by a prior from the whole corpus's counts and divided by its standard "
                "error (Monroe, Colaresi & Quinn 2008, *Fightin' Words*). A high z-score means typical of that "
                "class; the prior keeps rare words from topping the list by chance.")
    polar_labels_col, polar_n_col = st.columns(2)
    polar_labels = polar_labels_col.radio("Label scheme", LABEL_COUNTS, index=1, horizontal=True,
                                          key="vocab_polar_labels")
    polar_n = polar_n_col.slider("Words per class", 5, 30, 15, key="vocab_polar_top")
    polar_scheme = label_scheme(polar_labels)
    st.plotly_chart(charts.polarised_words_chart(resources.polarised_words(corpus, polar_labels, polar_n),
                                                 polar_scheme.class_names), key="chart_polarised")
    st.caption("Counted over the training sentences. Function words and punctuation can rank high too: "
               "they show how people write praise and complaints, not only which adjectives they pick.")

with padding_tab:
    st.markdown("Sentences in a batch must have one length, so shorter ones are filled with `<pad>` (index 1). "
                "Random batches mix short and long sentences; bucketing batches sentences of similar length "
                "together, so far fewer padding positions are computed.")
    batch_size = st.select_slider("Batch size", BATCH_SIZES, value=64, key="vocab_batch_size")
    padding = resources.padding_by_batch_size(corpus, BATCH_SIZES)
    chosen = BATCH_SIZES.index(batch_size)
    random_col, bucket_col = st.columns(2)
    random_col.metric("padding, random batches", f"{padding['unbucketed'][chosen]:.1%}")
    bucket_col.metric("padding, bucketed batches", f"{padding['bucketed'][chosen]:.1%}")
    st.plotly_chart(charts.padding_chart(padding, batch_size), key="chart_padding")
    st.caption("One shuffled epoch of the 3-class training sentences (seed 0), with `<sos>` and `<eos>` counted.")

    st.subheader(f"One batch of {EXAMPLE_BATCH_SIZE}, as the tutorial prints it")
    bucketing = st.toggle("Bucketing", value=False, key="vocab_batch_bucketing",
                          help="Off: a random batch, padded as in the tutorial. On: sentences of similar length.")
    st.button("Draw another batch", key="vocab_batch_again", on_click=_draw_another_batch)
    batch = resources.example_batch(corpus, min_freq, EXAMPLE_BATCH_SIZE, bucketing,
                                    st.session_state.get(BATCH_SEED, 0))
    time_first = batch.tokens.T  # (T, B): sequence first, as torchtext gave the tutorial
    st.code(f"X =\n{time_first}  {tuple(time_first.shape)}\n\ny =\n{batch.labels}  "
            f"{[label_scheme(3).class_names[i] for i in batch.labels.tolist()]}", language=None)
    rows = time_first.tolist()
    st.plotly_chart(charts.batch_chart(rows, [vocab.decode(row) for row in rows], PAD_INDEX), key="chart_batch")
    st.caption("Each column is a sentence: `<sos>` (2), its words, `<eos>` (3), then padding (1) up to the "
               "longest sentence of the batch. Hover a cell to read its word.")
