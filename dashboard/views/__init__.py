"""One module per page; app.py lists them in st.navigation."""
