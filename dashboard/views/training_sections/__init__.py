"""The training page's longer sections, one module each (views/training.py lays out the page)."""
