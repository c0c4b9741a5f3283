"""AppTest of the walkthrough page, run inside the app's real navigation (so its page links resolve)."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from sentiment_core.analysis.lessons import gradient_flow
from tests.helpers import chart_spec, metric

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
PAGE = "views/walkthrough.py"


def open_section(section: int, extra: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["section"] = str(section)
    for name, value in (extra or {}).items():
        at.query_params[name] = value
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def env(sst_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SST_DIR", str(sst_dir))
    monkeypatch.setenv("SENTIMENT_RUNS_DIR", str(tmp_path / "runs"))  # no runs


@pytest.fixture
def page(env):
    return open_section(1)


def traces(spec: dict) -> dict[str, list]:
    return {t["name"]: t["y"] for t in spec["data"]}


def test_one_section_per_screen_with_contents_and_pager(env):
    at = open_section(1)
    assert [h.value for h in at.header] == ["1. Why a sentence needs memory"]
    assert at.selectbox(key="wt_toc").value == 1 and not [b for b in at.button if b.key == "wt_prev"]
    at.button(key="wt_next").click().run()
    assert at.query_params["section"] in ("2", ["2"])
    assert [h.value for h in at.header] == ["2. The recurrent cell, word by word"]
    at.selectbox(key="wt_toc").set_value(8).run()
    assert [h.value for h in at.header] == ["8. Deep (stacked) RNNs"]
    at.button(key="wt_prev").click().run()
    assert [h.value for h in at.header][0].startswith("7. Gates")
    assert not open_section(99).exception and open_section(99).header[0].value.startswith("1.")  # a bad link: section 1


def test_presenter_mode_follows_the_url_and_the_toggle(env):
    at = open_section(4, {"present": "1"})
    assert at.toggle(key="wt_present").value is True
    assert any('[data-testid="stSidebar"]' in h.proto.body for h in at.get("html"))  # the presenter CSS
    at.toggle(key="wt_present").set_value(False).run()
    assert "present" not in at.query_params
    assert not any('[data-testid="stSidebar"]' in h.proto.body for h in at.get("html"))


def test_step_the_cell_over_the_words_of_a_sentence(env):
    at = open_section(2)
    assert at.button(key="wt_next_step").label == "Next word: feed x_1 (“a”)"
    for _ in range(5):
        at.button(key="wt_next_step").click().run()
    assert not at.exception
    codes = [c.value for c in at.code]
    assert any(c.startswith("# t = 5: read “,”\nh_5 (1, 10):\ntensor(") for c in codes), codes
    assert any(c.value == "Step 1 is hidden; the latest 4 are shown." for c in at.caption)
    at.slider(key="wt_h_dim").set_value(4).run()
    assert any("starts again" in i.value for i in at.info)
    at.selectbox(key="wt_pick").set_value("type your own...").run()
    at.text_input(key="wt_typed").set_value("good").run()
    at.button(key="wt_next_step").click().run()
    assert at.button(key="wt_next_step").disabled and any(c.value.startswith("# t = 1: read “good”\nh_1 (1, 4)")
                                                          for c in at.code)


def test_unrolling_counts_the_shared_weight_once_per_word(env):
    at = open_section(3)
    assert metric(at, "uses of fc_hh.weight in y_1's graph") == "1"
    assert metric(at, "uses of fc_hh.weight in y_3's graph") == "3"
    assert any("wt-unrolled" in h.proto.body for h in at.get("html"))


def test_bptt_reads_the_sentence_left_to_right(env):
    at = open_section(4)
    spec = chart_spec(at, "wt_bptt_chart")
    assert list(spec["layout"]["xaxis"]["ticktext"])[:3] == ["a", "warm", ","]
    assert traces(spec)["tanh"][-1] == pytest.approx(1.0)  # the loss is at the right end
    at.radio(key="wt_activation").set_value("identity").run()
    at.slider(key="wt_radius").set_value(1.2).run()
    linear = traces(chart_spec(at, "wt_bptt_chart"))["identity"]
    for k, norm in enumerate(reversed(linear)):  # orthogonal W_hh by default: exactly 1.2 ** k, k words back
        assert norm == pytest.approx(1.2 ** k, rel=0.01)
    at.query_params["section"] = "5"
    at.run()  # section 5 keeps section 4's settings
    cut = traces(chart_spec(at, "wt_truncation_chart"))
    # 8 tokens, detached every 5 words (the default): after word 5, so the loss reaches words 6 to 8 only
    assert [v is not None for v in cut["identity: detached every 5 words"]] == [False] * 5 + [True] * 3
    assert any("detached after word 5" in m.value and "words 6 to 8" in m.value and "%" in m.value
               for m in at.markdown)
    assert not any("e-0" in m.value for m in at.markdown)


def test_gates_and_deep_sections(env):
    at = open_section(7)
    spec = chart_spec(at, "wt_gate_chart")
    assert {y for t in spec["data"] for y in t["y"]} == {"i", "f", "g", "o", "c", "h"}
    at.radio(key="wt_gate_cell").set_value("gru").run()
    assert {y for t in chart_spec(at, "wt_gate_chart")["data"] for y in t["y"]} == {"r", "z", "n", "h"}
    at = open_section(8)
    at.slider(key="wt_deep_layers").set_value(3).run()
    at.toggle(key="wt_deep_bi").set_value(True).run()
    assert metric(at, "final states h_T") == "(6, 1, 64)"
    table = at.dataframe[0].value
    assert list(table["reads x_t of size"]) == [64, 128, 128]


def test_without_runs_the_button_queues_a_vanilla_rnn_and_an_lstm(page, tmp_path):
    """The button starts real background training through the jobs module; the test ends it early."""
    import os
    import signal
    import time

    from sentiment_core.runs import jobs
    from sentiment_core.runs.processes import is_process_alive
    from sentiment_core.runs.store import read_config

    at = open_section(6)
    assert any("No vanilla RNN and LSTM" in i.value and " s each" in i.value for i in at.info)
    # issue 13: at the first visit the chart shows the shipped vanilla RNN and LSTM
    assert sorted(at.multiselect[0].value) == ["shipped:walkthrough-lstm", "shipped:walkthrough-scratch"]
    assert len(traces(chart_spec(at, "wt_probe_chart"))) == 4  # two runs, after training and before
    at.button(key="wt_train_comparison").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    try:
        views = {v.name: v for v in jobs.list_jobs(tmp_path / "runs")}
        assert len(views) == 2 and all(name.startswith(gradient_flow.COMPARISON_PREFIX) for name in views)
        cells = sorted(read_config(v.path).model.cell for v in views.values())
        assert cells == sorted(gradient_flow.COMPARISON_CELLS)
        assert all(v.active for v in views.values())  # one starting, one waiting for its slot (1 at a time)
        assert any("Training in the background" in i.value for i in at.info)
        assert not [b for b in at.button if b.key == "wt_train_comparison"]  # no second launch
    finally:  # end the training processes this test started (each leads its own process group)
        pids = [(jobs.read_job(v.path) or {}).get("pid") for v in jobs.list_jobs(tmp_path / "runs")]
        for pid in pids:
            if pid:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass  # already ended
        deadline = time.time() + 30
        while any(pid and is_process_alive(pid) for pid in pids) and time.time() < deadline:
            for pid in pids:
                if pid:
                    try:
                        os.waitpid(pid, os.WNOHANG)  # our child: reap it
                    except ChildProcessError:
                        pass
            time.sleep(0.2)


def test_text_to_tensors_and_links(env):
    at = open_section(9)
    dataframes = list(at.dataframe)[-4:]
    assert len(dataframes) == 4  # indices, embedding rows, the two batches
    indices = dataframes[0].value
    assert list(indices.loc["token"])[:3] == ["<sos>", "this", "movie"] and indices.loc["index", "t=0"] == "2"
    assert indices.loc["token", "t=8"] == "," and int(indices.loc["count in training sentences", "t=8"]) > 1000
    batches = [df.value for df in dataframes[2:]]  # time-major: one column per sentence
    for batch in batches:
        assert "your sentence" in batch.columns and batch.shape[1] == 4
        ours = batch["your sentence"].tolist()
        assert ours[:3] == ["<sos>", "this", "movie"] and ours[13] == "<eos>" and set(ours[14:]) <= {"<pad>"}
    # Bucketing: the other sentences are close in length, so less padding than without.
    pads = [int((batch == "<pad>").sum().sum()) for batch in batches]
    assert pads[0] < pads[1]
    links = {link.proto.label: link.proto for link in at.get("page_link")}
    assert any("Dataset explorer" in label for label in links)
    at.query_params["section"] = "10"
    at.run()
    links = {link.proto.label: link.proto for link in at.get("page_link")}
    # Links to the training and playground pages carry their settings (query parameters the pages read).
    assert links["Training: watch it learn (the quick preset)"].query_string == "preset=quick"
    assert links["Training: the seed preset (the contrast)"].query_string == "preset=seed"
    assert links["Training: the seed preset with an LSTM"].query_string == "preset=seed&cell=lstm"
    assert links["Playground: the negation sentence"].query_string == (
        "text=This+movie+was+actually+neither+that+funny%2C+nor+super+witty.")
    assert all(link.page_script_hash for link in links.values())  # each resolves to a page of the app

    at.query_params["section"] = "9"
    at.run()
    at.text_input(key="wt_sentence").set_value("good , bad , good zzqxv").run()  # repeated tokens, an unknown word
    assert not at.exception
    assert list(list(at.dataframe)[-4].value.loc["token"]) == ["<sos>", "good", ",", "bad", ",", "good", "<unk>", "<eos>"]
    assert any("zzqxv" in c.value and "<unk>" in c.value for c in at.caption)
    at.text_input(key="wt_sentence").set_value("   ").run()
    assert any("empty" in e.value for e in at.error)


def test_probes_of_real_runs_are_compared(sst_dir, tmp_path, monkeypatch, corpus, vocab):
    """Two runs (a vanilla RNN and an LSTM) with probes measured by the trainer's own probe code."""
    import torch

    from sentiment_core.data.batching import EncodedDataset
    from sentiment_core.config import preset
    from sentiment_core.models import build_model
    from sentiment_core.runs.metrics import MetricsWriter
    from sentiment_core.runs.checkpoints import save_checkpoint
    from sentiment_core.runs.store import create_run
    from sentiment_core.data.text import label_scheme
    from sentiment_core.training.probe import probe_batch, run_probe

    root = tmp_path / "runs"
    dev = EncodedDataset(corpus.examples(3, "dev")[:200], vocab)
    batch = probe_batch(dev)
    models = {}
    for cell in ("scratch", "lstm"):
        config = preset("seed")
        config.model.cell, config.model.tutorial = cell, False
        config.model.vocab_size, config.model.num_classes = len(vocab), 3
        torch.manual_seed(0)
        model = build_model(config.model, vocab)
        run_dir = create_run(config, vocab, root=root, name=f"probe-{cell}")
        writer = MetricsWriter(run_dir)
        for epoch in (0, 1):  # two probes of the same untrained model: the page shows the last one
            writer.write(run_probe(model, batch, epoch, "cpu"))
        writer.close()
        save_checkpoint(run_dir / "checkpoint.pt", model, config.model, label_scheme(3), {"epoch": 1})
        models[cell] = (run_dir, model)
    monkeypatch.setenv("SST_DIR", str(sst_dir))
    monkeypatch.setenv("SENTIMENT_RUNS_DIR", str(root))
    at = open_section(6)
    assert sorted(at.multiselect[0].value) == ["probe-lstm", "probe-scratch"]
    names = traces(chart_spec(at, "wt_probe_chart"))
    assert len(names) == 4  # two runs, after epoch 1 and before training
    for norms in names.values():
        assert len(norms) == batch.tokens.shape[1] and norms[-1] == pytest.approx(1.0)  # the loss at the right
    assert not any("No vanilla RNN and LSTM" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "wt_train_comparison"]  # nothing left to train
    at.multiselect[0].set_value(["probe-lstm"]).run()
    assert len(traces(chart_spec(at, "wt_probe_chart"))) == 2

    # The embedding lookup can read a run's checkpoint: the rows are that model's word vectors.
    run_dir, model = models["lstm"]
    at.query_params["section"] = "9"
    at.run()
    at.selectbox(key="wt_embedding_source").set_value(str(run_dir)).run()
    assert not at.exception
    rows = next(df.value for df in at.dataframe if "dim 0" in df.value.columns)
    ids = vocab.encode(["this", "movie"], add_sos_eos=False)
    expected = model.embedding.weight[ids, :6].detach().numpy()
    assert rows.loc[f"this ({ids[0]})"].tolist() == pytest.approx(expected[0].tolist(), abs=1e-4)
    assert rows.loc[f"movie ({ids[1]})"].tolist() == pytest.approx(expected[1].tolist(), abs=1e-4)


def test_the_cell_equation_shows_the_output_activation_the_numbers_carry(env):
    """Issue 21: the equation said y_t = W_hy h_t + b_y while the printed y_t were sigmoid outputs."""
    at = open_section(2)
    at.button(key="wt_next_step").click().run()
    printed = next(c.value for c in at.code if c.value.startswith("# t = 1"))
    assert "grad_fn=<SigmoidBackward0>" in printed.split("y_1", 1)[1]
    equations = [e.value for e in at.get("latex")]
    assert any(r"y_t = \sigma\left(W_{hy}\,h_t + b_y\right)" in e and r"h_t = \tanh\left(" in e for e in equations)
    table = next(m.value for m in at.markdown if m.value.startswith("| symbol |"))
    for symbol, code in (("$b_h$", "`fc_hh.bias`"), ("$b_y$", "`fc_hy.bias`"), ("$\\sigma$", "`torch.sigmoid`")):
        assert any(symbol in row and code in row for row in table.splitlines()), symbol
