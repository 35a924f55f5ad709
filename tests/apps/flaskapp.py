# -*- test-case-name: tests.test_frameworks -*-
"""
A Flask application, served by txmp unchanged.
"""

from __future__ import annotations

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

app = Flask(__name__)


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
