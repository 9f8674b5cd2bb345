"""The Milvus connection as a person uses it: the Airflow 3 UI form in a real browser, its Test button,
and what the api-server stores."""

from __future__ import annotations

import json
import re

from airflow import __version__ as airflow_version
from packaging.version import Version

from harness.airflow import json_output
from harness.processes import free_port
from tests.ui.expected import CONN_FIELDS, STANDARD_FIELDS, WITH_EXAMPLES

# Airflow 3.2+ build the extra fields from the provider's "conn-fields" (typed, with examples);
# 3.0/3.1 from the hook's wtforms widgets (the FAB provider installs wtforms): text fields whose
# values are stored as typed, with the example in the description only.
FORM_READS_CONN_FIELDS = Version(airflow_version).release >= (3, 2)
# Airflow 3.3's form masks an extra field declared with format "password" as it is typed; 3.1's and
# 3.2's show it as plain text (what is stored is masked in the API, as asserted below, and in logs).
FORM_MASKS_EXTRA_SECRETS = Version(airflow_version).release >= (3, 3)
SCREENSHOTS = ("milvus-connection-form.png", "milvus-connection-form-extra.png")


def open_milvus_form(page, api_server, conn_id: str):
    """Connections > Add Connection, pick Milvus; returns the dialog."""
    # Airflow 3.1 sends a first visit to the home page, whatever its address, once it has signed the
    # visitor in; later visits go where they ask.
    page.goto(api_server.url)
    page.get_by_role("button", name="Admin").wait_for()
    page.goto(f"{api_server.url}/connections")
    page.get_by_role("button", name="Add Connection").click()
    dialog = page.get_by_role("dialog")
    dialog.locator('input[name="connection_id"]').fill(conn_id)
    dialog.get_by_role("combobox").fill("Milvus")
    page.get_by_role("option", name="Milvus", exact=True).click()
    dialog.locator('input[name="host"]').wait_for()
    return dialog


def timeout_field(dialog):
    # A number input bound to its label on Airflow 3.2+; a text input on 3.0/3.1.
    if FORM_READS_CONN_FIELDS:
        return dialog.get_by_label(CONN_FIELDS["timeout"]["label"])
    return dialog.locator("#element_timeout")


def open_section(dialog, title: str) -> None:
    trigger = dialog.get_by_role("button", name=title, exact=True)
    if trigger.get_attribute("aria-expanded") != "true":
        trigger.click()


def save_and_find_row(page, dialog, conn_id: str):
    dialog.get_by_role("button", name="Save").click()
    dialog.wait_for(state="hidden")
    row = page.get_by_role("row").filter(has=page.get_by_role("cell", name=conn_id, exact=True))
    row.wait_for()
    return row


def press_test(page, row, expected: str) -> str:
    """Presses the row's Test Connection button and returns the text of the toast it shows."""
    row.get_by_role("button", name="Test Connection").click()
    toast = page.get_by_text(re.compile(expected))
    toast.first.wait_for(timeout=30_000)
    return toast.first.inner_text()


def test_form_shows_milvus_fields_with_labels_hints_and_masking(page, api_server):
    dialog = open_milvus_form(page, api_server, "milvus_form")

    # The type is offered by its display name, and the standard fields are relabelled for Milvus.
    assert dialog.get_by_text("Milvus", exact=True).is_visible()
    for name, (label, placeholder) in STANDARD_FIELDS.items():
        field = dialog.locator(f'input[name="{name}"]')
        assert field.is_visible(), name
        assert field.get_attribute("placeholder") == placeholder, name
        assert dialog.locator(f'label[for="{field.get_attribute("id")}"]').inner_text().strip() == label
    # Schema does not apply to Milvus: hidden.
    assert dialog.locator('input[name="schema"]').count() == 0

    open_section(dialog, "Extra Fields")
    dialog.locator("#element_token").wait_for()

    # Every extra field is there with its label and its description.
    for name, field in CONN_FIELDS.items():
        assert dialog.get_by_text(field["label"], exact=True).is_visible(), name
        assert dialog.get_by_text(field["description"], exact=True).is_visible(), name
    # Secrets are masked as typed.
    assert dialog.locator('input[name="password"]').get_attribute("type") == "password"
    assert (dialog.locator("#element_token").get_attribute("type") == "password") == FORM_MASKS_EXTRA_SECRETS
    # Paths and names come with an example of what to type.
    for name in WITH_EXAMPLES if FORM_READS_CONN_FIELDS else ():
        field = dialog.locator(f"#element_{name}")
        assert field.get_attribute("placeholder"), name
        options = dialog.locator(f"#list_{name} option")
        assert options.count() >= 1, name
        assert options.first.get_attribute("value") == CONN_FIELDS[name]["schema"]["examples"][0]


def test_fill_in_save_and_test_against_milvus(page, api_server, milvus_server, milvus_client, artifacts_dir):
    conn_id = "milvus_ui"
    host, port = milvus_server["uri"].removeprefix("http://").rsplit(":", 1)
    dialog = open_milvus_form(page, api_server, conn_id)
    dialog.locator('input[name="host"]').fill(host)
    dialog.locator('input[name="port"]').fill(port)
    dialog.locator('input[name="login"]').fill("root")
    dialog.locator('input[name="password"]').fill("ui-secret-password")
    dialog.screenshot(path=str(artifacts_dir / SCREENSHOTS[0]))
    open_section(dialog, "Extra Fields")
    dialog.locator("#element_token").fill("ui-secret-token")
    dialog.locator("#element_db_name").fill("default")
    timeout_field(dialog).fill("15")
    dialog.screenshot(path=str(artifacts_dir / SCREENSHOTS[1]))

    row = save_and_find_row(page, dialog, conn_id)
    message = press_test(page, row, r"Connected to Milvus")
    assert message == f"Connected to Milvus {milvus_client.get_server_version()}"

    # What the API shows: the fields as typed, secrets masked.
    shown = api_server.get(f"/api/v2/connections/{conn_id}")
    assert (shown["conn_type"], shown["host"], shown["port"], shown["login"]) == ("milvus", host, int(port), "root")
    assert shown["password"] == "***"
    extra = json.loads(shown["extra"])
    assert extra["token"] == "***"
    timeout = 15 if FORM_READS_CONN_FIELDS else "15"  # the hook reads either
    assert (extra["db_name"], extra["timeout"], extra["secure"]) == ("default", timeout, False)
    # What was stored: the real secrets, not the masks.
    [stored] = json_output(api_server.cli("connections", "get", conn_id, "-o", "json"))
    assert stored["password"] == "ui-secret-password"
    assert stored["extra_dejson"]["token"] == "ui-secret-token"


def test_test_button_reports_a_closed_port_clearly(page, api_server):
    conn_id = "milvus_closed"
    closed_port = free_port()
    dialog = open_milvus_form(page, api_server, conn_id)
    dialog.locator('input[name="host"]').fill("127.0.0.1")
    dialog.locator('input[name="port"]').fill(str(closed_port))
    open_section(dialog, "Extra Fields")
    timeout_field(dialog).fill("5")
    row = save_and_find_row(page, dialog, conn_id)

    message = press_test(page, row, r"cannot reach Milvus")
    assert f"cannot reach Milvus at 127.0.0.1:{closed_port}" in message
