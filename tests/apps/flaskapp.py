# -*- test-case-name: tests.test_frameworks -*-
"""
A Flask application, served by txmp unchanged.
"""

from __future__ import annotations

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

from tests.apps.wholebody import summary

app = Flask(__name__)
# The tests post form fields of several MiB; Flask's default refuses
# fields over 500 kB (with 413), which is not what they test.
app.config["MAX_FORM_MEMORY_SIZE"] = None


@app.route("/greet")
def greet() -> ResponseReturnValue:
    name = request.args.get("name", "nobody")
    times = int(request.args.get("times", "1"))
    return f"Hello, {name}! " * times


@app.route("/form", methods=["POST"])
def form() -> ResponseReturnValue:
    return jsonify(
        {
            "fields": {key: request.form.getlist(key) for key in request.form},
            "method": request.method,
        }
    )


@app.route("/data", methods=["POST"])
def data() -> ResponseReturnValue:
    return summary(request.get_data())


@app.route("/field", methods=["POST"])
def field() -> ResponseReturnValue:
    return summary(request.form["blob"].encode("latin-1"))


@app.route("/upload", methods=["POST"])
def upload() -> ResponseReturnValue:
    return summary(request.files["upload"].read())
