"""Chart builders, one module per subject (`data`: the dataset and the vocabulary).

Each builder is a plain function, data in and a plotly Figure out, testable without Streamlit.
"""
