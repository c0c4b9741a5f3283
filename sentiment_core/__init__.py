"""sentiment_core: recurrent networks for sentiment analysis on the Stanford Sentiment Treebank.

The library behind the dashboard and the CLI (`python -m sentiment_core ...`); it never
imports Streamlit.
"""
__version__ = "0.1.0"
