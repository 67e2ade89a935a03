"""The bare baseline: a Flask app that parses a form and returns JSON, nothing else.

Served under the same gunicorn configuration as the server, it is the ceiling for this stack.
"""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/echo")
def echo():
    token = request.form.get("token", "")
    return jsonify(active=True, length=len(token))
