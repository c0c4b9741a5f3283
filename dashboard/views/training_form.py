"""The training page's settings form, generated from the settings schema (sentiment_core.config).

Each setting with a `Widget` in the schema gets one widget here, keyed `train_<setting>`, in the
column of its config section; `config_from_widgets` reads them back into a RunConfig.
"""
from __future__ import annotations

import streamlit as st

from dashboard.escape import escape_markdown
from dashboard.query_params import shown_value
from sentiment_core.config import (CELLS, DEFAULT_PRESET, PRESETS, SECTIONS, SETTINGS, RunConfig, Setting,
                                   get_setting, preset, with_changes)

CUSTOM = "custom"                      # the preset choice for "my own settings, from the defaults"
K = "train_"                           # prefix of the training page's widget keys

FORM_SETTINGS = [s for s in SETTINGS.values() if s.widget is not None]


def widget_value(s: Setting, value):
    """A config value as its widget holds it: an optional number that is off is 0."""
    if s.kind in (int, float) and not s.choices:
        return s.kind(value or 0)
    return value


def widget_values(config: RunConfig) -> dict:
    return {s.key: widget_value(s, get_setting(config, s.key)) for s in FORM_SETTINGS}


def is_enabled(s: Setting) -> bool:
    """False for a widget its `enabled_by` setting switches off (e.g. momentum unless sgd)."""
    needs = s.widget.enabled_by
    return needs is None or st.session_state[K + needs[0]] == needs[1]


def config_from_widgets(preset_name: str) -> RunConfig:
    """The chosen preset with the form's values on top; a disabled widget's value does not count."""
    changes = {}
    for s in FORM_SETTINGS:
        if is_enabled(s):
            value = st.session_state[K + s.key]
            changes[s.key] = None if s.optional and not value else value  # 0 = off
    config = with_changes(base_config(preset_name), changes)
    if config.preset and config.to_dict() != base_config(config.preset).to_dict():
        config.preset = f"{config.preset} (changed)"
    return config


def base_config(preset_name: str) -> RunConfig:
    return RunConfig() if preset_name == CUSTOM else preset(preset_name)


def apply_preset() -> None:
    """on_change of the preset box: fill every setting from the chosen preset."""
    for key, value in widget_values(base_config(st.session_state[K + "preset"])).items():
        st.session_state[K + key] = value


def initialise_settings() -> list[str]:
    """First visit (or after another page): settings from the query parameters `preset` and `cell`."""
    notes = []
    if K + "preset" in st.session_state and K + "cell" in st.session_state:
        return notes
    wanted = st.query_params.get("preset", DEFAULT_PRESET)
    if wanted not in PRESETS and wanted != CUSTOM:
        notes.append(f"There is no preset called '{escape_markdown(shown_value(wanted))}'; the settings start from the "
                     f"{DEFAULT_PRESET} preset (choose one of {', '.join(PRESETS)}).")
        wanted = DEFAULT_PRESET
    st.session_state[K + "preset"] = wanted
    apply_preset()
    cell = st.query_params.get("cell")
    if cell is not None:
        if cell in CELLS:
            st.session_state[K + "cell"] = cell
        else:
            notes.append(f"There is no cell called '{escape_markdown(shown_value(cell))}'; keeping the preset's "
                         f"(choose one of {', '.join(CELLS)}).")
    return notes


def preset_picker() -> str:
    """The preset box, first in the form (with Start under it); returns the chosen preset name."""
    choices = [*PRESETS, CUSTOM]
    preset_name = st.selectbox("Preset", choices, key=K + "preset", on_change=apply_preset,
                               format_func=lambda n: "custom (library defaults)" if n == CUSTOM else n,
                               help="`quick` is a first run that visibly learns (a small GRU, about 65% dev "
                                    "accuracy); `seed` is the tutorial's vanilla RNN and settings, kept as the "
                                    "contrast (it stays near the majority class); `best-2/3/5` are tuned per "
                                    "label scheme. Choosing one fills every setting; change any of them under "
                                    "\"Every setting\". The expected time, from this server's measured speed, "
                                    "shows under the box.")
    if preset_name == "seed":
        st.caption("The tutorial's model, as the contrast: it reads padding as words and sees 800 sentences an "
                   "epoch, so expect it to stay near the majority-class line. `quick` shows a network learning.")
    return preset_name


def every_setting(limits, config: RunConfig, open_it: bool = False) -> None:
    """Every setting's widget, folded under one expander below Start (issue 22: Start sat under 20 fields).

    Drawn after config_from_widgets has read their values from session state: each widget's value is
    there from initialise_settings / apply_preset or the visitor's last change (which reruns the page).
    `open_it`: unfold it (a setting is outside the limits, and the visitor must see which).
    """
    changed = [s.widget.label for s in FORM_SETTINGS if widget_value(s, get_setting(config, s.key))
               != widget_value(s, get_setting(base_config(st.session_state[K + "preset"]), s.key))]
    # Said outside the title (a new title would redraw it folded), always (a caption that came and went
    # would move the expander, with the same effect).
    st.caption(f"Changed from the preset: {escape_markdown(', '.join(changed))}." if changed
               else "All settings as the preset has them.")
    with st.expander("Every setting", icon=":material/tune:", expanded=open_it):
        for column, (section, _, title) in zip(st.columns(len(SECTIONS)), SECTIONS):  # one column per config section
            with column:
                st.markdown(f"**{title.capitalize()}**")
                for s in FORM_SETTINGS:
                    if s.section == section:
                        setting_widget(s, limits)


def setting_widget(s: Setting, limits) -> None:
    """One setting's widget. A disabled one is still drawn: Streamlit forgets the value of a widget not drawn."""
    w = s.widget
    tip = " ".join(filter(None, [s.help[0].upper() + s.help[1:] + ".", w.tip,
                                 f"Limit: {getattr(limits, s.limit):g}." if s.limit else ""]))
    common = {"key": K + s.key, "help": tip, "disabled": not is_enabled(s)}
    if s.kind is bool:
        st.checkbox(w.label, **common)
    elif s.choices:
        st.selectbox(w.label, s.choices, format_func=w.names.get if w.names else str, **common)
    else:  # an optional number is off at 0; a closed range's end is the box's end
        number = s.kind
        st.number_input(w.label, min_value=number(0 if s.optional else s.interval[0]),
                        max_value=None if w.max_value is None else number(w.max_value),
                        step=None if w.step is None else number(w.step), format=w.format, **common)
