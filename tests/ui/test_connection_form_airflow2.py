"""The Milvus connection in Airflow 2's UI (the Flask webserver): the same fields as Airflow 3's
form, its Test button, and what the webserver stores."""

from __future__ import annotations

import json

from harness.airflow import json_output
from harness.processes import free_port
from tests.ui.expected import CONN_FIELDS, STANDARD_FIELDS, WITH_EXAMPLES

SCREENSHOT = "milvus-connection-form-airflow2.png"


def open_milvus_form(page, server, conn_id: str) -> None:
    """Admin > Connections > add, Milvus picked."""
    page.goto(f"{server.url}/connection/add")
    page.locator("#conn_id").fill(conn_id)
    page.select_option("#conn_type", "milvus")
    page.locator("#extra__milvus__token").wait_for()


def press_test(page) -> str:
    """Presses the form's Test button and returns the message it shows."""
    page.locator("#test-connection").click()
    alert = page.locator(".alert").filter(has_text="Milvus")
    alert.first.wait_for(timeout=30_000)
    return alert.first.inner_text().strip()


def label_of(page, field_id: str) -> str:
    return page.locator(f'label[for="{field_id}"]').inner_text().strip()


def test_form_shows_the_fields_of_airflow_3s_form(page, api_server):
    open_milvus_form(page, api_server, "milvus_form")

    for name, (label, placeholder) in STANDARD_FIELDS.items():
        field = page.locator(f"#{name}")
        assert field.is_visible(), name
        assert field.get_attribute("placeholder") == placeholder, name
        assert label_of(page, name) == label
    # Schema and the raw extra do not apply to Milvus: hidden.
    assert page.locator("#schema").is_hidden()
    assert page.locator("#extra").is_hidden()

    # Every extra field, with its label and description, as Airflow 3 declares them.
    for name, field in CONN_FIELDS.items():
        field_id = f"extra__milvus__{name}"
        assert page.locator(f"#{field_id}").is_visible(), name
        assert label_of(page, field_id) == field["label"]
        assert page.get_by_text(field["description"], exact=True).is_visible(), name
    # Secrets are masked as typed.
    assert page.locator("#password").get_attribute("type") == "password"
    assert page.locator("#extra__milvus__token").get_attribute("type") == "password"
    # Paths and names show an example of what to type.
    for name in WITH_EXAMPLES:
        placeholder = page.locator(f"#extra__milvus__{name}").get_attribute("placeholder")
        assert placeholder == CONN_FIELDS[name]["schema"]["examples"][0], name


def test_fill_in_test_and_save_against_milvus(page, api_server, milvus_server, milvus_client, artifacts_dir):
    conn_id = "milvus_ui"
    host, port = milvus_server["uri"].removeprefix("http://").rsplit(":", 1)
    open_milvus_form(page, api_server, conn_id)
    page.locator("#host").fill(host)
    page.locator("#port").fill(port)
    page.locator("#login").fill("root")
    page.locator("#password").fill("ui-secret-password")
    page.locator("#extra__milvus__token").fill("ui-secret-token")
    page.locator("#extra__milvus__db_name").fill("default")
    page.locator("#extra__milvus__timeout").fill("15")
    page.screenshot(path=str(artifacts_dir / SCREENSHOT), full_page=True)

    assert press_test(page) == f"Connected to Milvus {milvus_client.get_server_version()}"
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Added Row").wait_for()

    # What the API shows: the fields as typed, the token masked (and the password left out).
    shown = api_server.get(f"/api/v1/connections/{conn_id}")
    assert (shown["conn_type"], shown["host"], shown["port"], shown["login"]) == ("milvus", host, int(port), "root")
    assert "password" not in shown
    extra = json.loads(shown["extra"])
    assert extra["token"] == "***"
    # Airflow 2's form stores every text field as a string: the hook reads "15" as 15 s.
    assert (extra["db_name"], extra["timeout"], extra["secure"]) == ("default", "15", False)
    # What was stored: the real secrets, not the masks.
    [stored] = json_output(api_server.cli("connections", "get", conn_id, "-o", "json"))
    assert stored["password"] == "ui-secret-password"
    assert stored["extra_dejson"]["token"] == "ui-secret-token"


def test_test_button_reports_a_closed_port_clearly(page, api_server):
    closed_port = free_port()
    open_milvus_form(page, api_server, "milvus_closed")
    page.locator("#host").fill("127.0.0.1")
    page.locator("#port").fill(str(closed_port))
    page.locator("#extra__milvus__timeout").fill("5")

    assert f"cannot reach Milvus at 127.0.0.1:{closed_port}" in press_test(page)
