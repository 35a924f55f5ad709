# -*- test-case-name: tests.test_frameworks -*-
"""
A Flask application, served by txmp unchanged.
"""

from __future__ import annotations

import hashlib
import io

from flask import Flask, jsonify, request, send_file
from flask.typing import ResponseReturnValue

from tests.apps.wholebody import summary

#: What C{/blob} serves: 1000 bytes, each its index modulo 256.
BLOB = bytes(i % 256 for i in range(1000))


class _CountedFile(io.BytesIO):
    """
    A file that counts the bytes read from it, in L{_readOfCounted}.
    """

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        _readOfCounted[0] += len(data)
        return data


# How many bytes /counted read of the last file it served.
_readOfCounted = [0]

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


@app.route("/multipart", methods=["POST"])
def multipart() -> ResponseReturnValue:
    files = {}
    for key, upload in request.files.items():
        data = upload.read()
        files[key] = {
            "filename": upload.filename,
            "contentType": upload.content_type,
            "length": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    return jsonify({"files": files, "fields": request.form.to_dict()})


@app.route("/conditional")
def conditional() -> ResponseReturnValue:
    # This module's own file: Werkzeug makes its ETag and Last-Modified
    # from the file's, and answers 304 to a request that matches either.
    return send_file(__file__, mimetype="text/plain", conditional=True)


@app.route("/caf\xe9")
@app.route("/word/<word>")
def word(word: str = "") -> ResponseReturnValue:
    return jsonify({"path": request.path, "word": word, "name": request.args.get("name", "")})


@app.route("/blob")
def blob() -> ResponseReturnValue:
    # Werkzeug answers a Range header with 206 and the part asked for.
    return send_file(
        io.BytesIO(BLOB), mimetype="application/octet-stream", conditional=True
    )


@app.route("/counted")
def counted() -> ResponseReturnValue:
    # SIZE bytes, each its index modulo 251, served as send_file serves a
    # video: Werkzeug answers a Range header with 206 and the part asked
    # for, and moves the file to it if the file wrapper can seek.
    size = int(request.args["size"])
    _readOfCounted[0] = 0
    content = _CountedFile(bytes(i % 251 for i in range(251)) * (size // 251 + 1))
    content.truncate(size)
    return send_file(content, mimetype="application/octet-stream", conditional=True)


@app.route("/counted/read")
def countedRead() -> ResponseReturnValue:
    return str(_readOfCounted[0])
