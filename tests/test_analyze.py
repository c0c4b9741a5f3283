"""`analyze`: overall figures equal `evaluate`'s, slices and phrase breakdowns add up (synthetic treebank)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sentiment_core.analysis.evaluation.report import analyze_split, split_phrases
from sentiment_core.data.text import label_scheme
from sentiment_core.runs.execution import load_model, train_run
from tests.helpers import tiny_config
from tests.synthetic_treebank import SIZES


@pytest.fixture(scope="module")
def tiny_run(tiny_corpus, tmp_path_factory):
    config = tiny_config(train_limit=None, eval_limit=None, epochs=3, batch_size=16, lr=3e-3)
    run_dir, status = train_run(config, root=tmp_path_factory.mktemp("runs"), name="tiny", corpus=tiny_corpus,
                                catch_signals=False)
    assert status["state"] == "finished"
    return run_dir


def test_overall_matches_evaluate_and_slices_partition(tiny_run, tiny_corpus):
    model, vocab, _, scheme = load_model(tiny_run)
    result = analyze_split(model, vocab, scheme, tiny_corpus, "test")
    evaluate_cli = subprocess.run([sys.executable, "-m", "sentiment_core", "evaluate", str(tiny_run), "--split",
                                   "test", "--json", "--data-dir", str(tiny_corpus.folder)],
                                  capture_output=True, text=True, check=True)
    evaluated = json.loads(evaluate_cli.stdout)
    assert result["overall"]["accuracy"] == evaluated["accuracy"]
    assert result["overall"]["confusion"] == evaluated["confusion"]
    slices = {row["name"]: row for row in result["slices"]}
    lengths = [row for name, row in slices.items() if name.startswith("length")]
    assert sum(row["count"] for row in lengths) == result["overall"]["count"] == SIZES["test"]
    negated = sum(1 for e in tiny_corpus.examples(scheme, "test") if "not" in e.tokens)
    assert slices["negation"]["count"] == negated > 0
    assert slices["contrast"]["count"] == sum(1 for e in tiny_corpus.examples(scheme, "test") if "but" in e.tokens)


def test_every_node_of_every_tree_is_scored_once(tiny_run, tiny_corpus):
    model, vocab, _, scheme = load_model(tiny_run)
    phrases = analyze_split(model, vocab, scheme, tiny_corpus, "dev")["phrases"]
    nodes = split_phrases(tiny_corpus, "dev", label_scheme(3))
    assert phrases["count"] == len(nodes.examples)
    assert sum(r["count"] for r in phrases["by_length"]) == phrases["count"]
    assert sum(r["count"] for r in phrases["by_depth"]) == phrases["count"]
    roots = next(r for r in phrases["by_depth"] if r["bucket"] == "0")
    assert roots["count"] == len(tiny_corpus.sentences["dev"])  # one root per sentence


def test_binary_scheme_drops_neutral_phrases(tiny_corpus):
    three, two = split_phrases(tiny_corpus, "dev", label_scheme(3)), split_phrases(tiny_corpus, "dev", label_scheme(2))
    neutral = sum(1 for e in three.examples if label_scheme(3).class_names[e.label] == "neutral")
    assert len(two.examples) == len(three.examples) - neutral


def test_cli_json_has_overall_slices_and_phrases(tiny_run, tiny_corpus):
    done = subprocess.run([sys.executable, "-m", "sentiment_core", "analyze", str(tiny_run), "--split", "test",
                           "--json", "--data-dir", str(tiny_corpus.folder)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result) >= {"overall", "slices", "phrases"}
    assert {"name", "definition", "count", "accuracy", "macro_f1"} <= set(result["slices"][0])
    assert set(result["phrases"]) >= {"by_length", "by_depth"}
