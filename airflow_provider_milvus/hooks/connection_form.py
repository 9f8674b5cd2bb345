"""The connection form of Airflow UIs before 3.2 (Flask), built from the one declaration of the
connection's fields, :data:`~airflow_provider_milvus.get_provider_info.CONN_FIELDS`, which Airflow
3.2+ reads from the provider info itself.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_milvus.get_provider_info import CONN_FIELDS, UI_FIELD_BEHAVIOUR


def connection_form_widgets() -> dict[str, Any]:
    """The extra fields of the connection form in Airflow's Flask UI (Airflow 2)."""
    from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import BooleanField, PasswordField, StringField

    widgets: dict[str, Any] = {}
    for name, field in CONN_FIELDS.items():
        label, description, schema = lazy_gettext(field["label"]), field["description"], field["schema"]
        if "boolean" in schema["type"]:
            widgets[name] = BooleanField(label, description=description, default=schema.get("default", False))
        elif schema.get("format") == "password":
            widgets[name] = PasswordField(label, description=description, widget=BS3PasswordFieldWidget())
        else:
            widgets[name] = StringField(label, description=description, widget=BS3TextFieldWidget())
    return widgets


def ui_field_behaviour() -> dict[str, Any]:
    """Hidden, relabeled and placeholder fields of the Airflow 2 connection form. Its extra fields
    show the first of their examples as placeholder (Airflow 3's form offers the examples)."""
    behaviour = {key.replace("-", "_"): value for key, value in UI_FIELD_BEHAVIOUR.items()}
    examples = {name: f["schema"]["examples"][0] for name, f in CONN_FIELDS.items() if "examples" in f["schema"]}
    return {**behaviour, "placeholders": {**behaviour["placeholders"], **examples}}
