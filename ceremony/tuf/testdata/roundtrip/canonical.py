#!/usr/bin/env python3
"""Writes NAME.signed.canonical and NAME.file for each NAME.json given.

An encoder independent of Conclave's: OLPC canonical JSON (members sorted by
UTF-8 bytes, only backslash and double quote escaped) for the signed part,
and the same with control characters escaped (file form) for the whole file.

    cd ceremony/tuf/testdata/roundtrip && ./canonical.py root targets ...
"""
import json, sys

ESC = {8: '\\b', 9: '\\t', 10: '\\n', 12: '\\f', 13: '\\r'}

def string(o, file_form):
    out = []
    for ch in o:
        if ch == '\\': out.append('\\\\')
        elif ch == '"': out.append('\\"')
        elif file_form and ord(ch) < 0x20: out.append(ESC.get(ord(ch), '\\u%04x' % ord(ch)))
        else: out.append(ch)
    return '"' + ''.join(out) + '"'

def canon(o, file_form=False):
    if isinstance(o, bool): return "true" if o else "false"
    if o is None: return "null"
    if isinstance(o, int): return str(o)
    if isinstance(o, str): return string(o, file_form)
    if isinstance(o, list): return "[" + ",".join(canon(x, file_form) for x in o) + "]"
    if isinstance(o, dict):
        keys = sorted(o, key=lambda k: k.encode())
        return "{" + ",".join(string(k, file_form) + ":" + canon(o[k], file_form) for k in keys) + "}"
    raise TypeError(o)

for name in sys.argv[1:]:
    doc = json.load(open(name + ".json"))
    open(name + ".signed.canonical", "wb").write(canon(doc["signed"]).encode())
    open(name + ".file", "wb").write(canon(doc, True).encode())
