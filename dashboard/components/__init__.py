"""Widgets used by several pages (`run_watcher`: follow runs training in the background)."""
