"""The walkthrough in a real browser: stepping the recurrent cell by hand.

The tensors the page prints are recomputed here with sentiment_core.analysis.lessons at the page's default
sizes and seed, so the test checks the numbers, not only that something appeared.
"""
from __future__ import annotations

from playwright.sync_api import expect

from sentiment_core.analysis import lessons


def code_blocks(app) -> list[str]:
    return [" ".join(text.split()) for text in app.page.locator('[data-testid="stCode"]').all_inner_texts()]


def test_walkthrough_steps_the_cell_and_unrolls_it(app):
    walk = lessons.start_cell_walk(lessons.CellSizes())  # the page's defaults: N 3, input 1024, hidden 10, seed 0
    expected = [lessons.next_cell_step(walk) for _ in range(2)]
    graph = lessons.autograd_graph(expected[1].y, lessons.walk_tensor_names(walk), "y_2")
    recurrent_uses = lessons.parameter_uses(graph, "fc_hh.weight")  # once per step taken

    app.open("/walkthrough")
    expect(app.main().get_by_text("Press Next step to feed the first input")).to_be_visible()
    step_button = app.widget("wt_next_step").get_by_role("button")
    expect(step_button).to_have_text("Next step: feed x_1")

    step_button.click()
    app.idle()
    code = app.page.locator('[data-testid="stCode"]')
    expect(code.filter(has_text=f"h_1 {tuple(expected[0].h.shape)}")).to_have_count(1)
    shown = code_blocks(app)
    assert " ".join(lessons.describe_tensor("h_1", expected[0].h).split()) in shown
    assert " ".join(lessons.describe_tensor("y_1", expected[0].y).split()) in shown
    expect(app.main().get_by_text("Take 1 more step above")).to_be_visible()
    expect(step_button).to_have_text("Next step: feed x_2")  # the label follows the click at once

    step_button.click()
    app.idle()
    expect(code.filter(has_text=f"h_2 {tuple(expected[1].h.shape)}")).to_have_count(1)
    shown = code_blocks(app)
    assert " ".join(lessons.describe_tensor("h_2", expected[1].h).split()) in shown
    # Two steps: the unrolled graphs of y_1 and y_2, where the recurrent weights enter twice.
    expect(app.main().get_by_text("Take 1 more step above")).to_have_count(0)
    uses = app.page.locator('[data-testid="stMetric"]').filter(has_text="uses of fc_hh.weight in y_2")
    expect(uses.locator('[data-testid="stMetricValue"]')).to_have_text(str(recurrent_uses))
    expect(app.page.locator('[data-testid="stGraphVizChart"] svg')).to_have_count(2)
    app.no_exception()
    app.scroll_to(app.main().get_by_role("heading", name="2. The recurrent cell"))
    app.screenshot("walkthrough")
