#!/usr/bin/env python3
"""Check every worked example in docs/formats/examples against its JSON Schema.

Run from anywhere: python3 docs/formats/schema/check_examples.py
Needs the jsonschema package (Debian: python3-jsonschema). Exits 1 on a
mismatch; the NEG lines must each report at least one error.
"""
import json, base64, sys, glob, os
os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
failed = False
from jsonschema import Draft202012Validator
S='schema/'
store={}
for f in glob.glob(S+'*.json'):
    d=json.load(open(f)); store[d['$id']]=d
try:
    # jsonschema 4.18 and later resolve $ref through a registry.
    from referencing import Registry, Resource
    reg=Registry()
    for i, d in store.items():
        reg=reg.with_resource(i, Resource.from_contents(d))
    def validator(d): return Draft202012Validator(d, registry=reg)
except ImportError:
    # Debian 12's python3-jsonschema (4.10) uses a RefResolver instead.
    from jsonschema import RefResolver
    def validator(d): return Draft202012Validator(d, resolver=RefResolver.from_schema(d, store=store))
def v(schema, inst, label):
    d=json.load(open(S+schema))
    Draft202012Validator.check_schema(d)
    global failed
    errs=list(validator(d).iter_errors(inst))
    if bool(errs) != label.startswith('NEG'): failed = True
    print(('OK  ' if not errs else 'BAD ')+label+' '+schema)
    for e in errs[:3]: print('   ', e.message[:200], list(e.path))
E='examples/'
batch=[json.loads(l) for l in open(E+'bundle/requests/0001.jsonl', 'rb').read().split(b'\n')[:-1]]
for n, r in enumerate(batch, 1):
    v('request.schema.json', r, 'bundle/requests/0001.jsonl:%d' % n)
v('request.schema.json', json.load(open(E+'recover-request.json')), E+'recover-request.json')
m=json.load(open(E+'bundle/manifest.json'))
v('bundle-envelope.schema.json', m, 'manifest envelope')
v('bundle-manifest.schema.json', json.loads(base64.b64decode(m['payload'])), 'manifest payload')
v('published-state.schema.json', json.load(open(E+'bundle/published.json')), 'published')
v('possession.schema.json', json.load(open(E+'possession-statement.json')), 'possession')
v('keychange.schema.json', json.load(open(E+'keychange-statement.json')), 'keychange')
v('decisions.schema.json', json.load(open(E+'export/decisions.json')), 'decisions')
v('export-manifest.schema.json', json.load(open(E+'export/export-manifest.json')), 'export manifest')
v('import-report.schema.json', json.load(open(E+'import-report.json')), 'import report')
v('tokens.schema.json', json.load(open(E+'tokens.json')), 'tokens listing')
v('yubikeys.schema.json', json.load(open(E+'yubikeys.json')), 'yubikeys listing')
v('error.schema.json', json.load(open(E+'error.json')), 'error')
v('media.schema.json', json.load(open(E+'media.json')), 'media')
v('verify-report.schema.json', json.load(open(E+'verify-report.json')), 'verify report')
v('policy-check.schema.json', json.load(open(E+'policy-check.json')), 'policy check')
for f in sorted(glob.glob(E+'enrolment-record-*.json')):
    v('enrolment-record.schema.json', json.load(open(f)), f)
v('enrolment-check.schema.json', json.load(open(E+'enrolment-check.json')), 'enrolment check')
v('partial.schema.json', json.load(open(E+'partial/partial.json')), 'partial')
v('audit-report.schema.json', json.load(open(E+'audit-report.json')), 'audit report')
v('diff-report.schema.json', json.load(open(E+'diff-report.json')), 'diff report')
v('audit-report.schema.json', json.load(open(E+'audit-report-two-sites.json')), 'audit report, two sites')
for n, line in enumerate(open('../../ceremony/transcript/testdata/kat/log.jsonl', 'rb').read().splitlines(), 1):
    v('transcript-line.schema.json', json.loads(line), 'transcript line %d' % n)
# negative checks
r=json.load(open(E+'enrolment-record-pkcs11.json')); r['token']['slot']='9c'
v('enrolment-record.schema.json', r, 'NEG enrolment pkcs11 key with a slot')
r=json.load(open(E+'enrolment-record-pkcs11.json')); r['attestation']=['AAAA']
v('enrolment-record.schema.json', r, 'NEG enrolment pkcs11 key with an attestation')
r=dict(batch[0]); r['paths']=['*']
v('request.schema.json', r, 'NEG unknown member')
r=dict(batch[1]); del r['authorisation']
v('request.schema.json', r, 'NEG rotate without authorisation')
r=dict(batch[0]); r['project']='dj\u0430ngo'
v('request.schema.json', r, 'NEG confusable')
p=json.load(open(E+'possession-statement.json')); del p['base_version']
v('possession.schema.json', p, 'NEG possession without base_version')
y=json.load(open(E+'yubikeys.json')); y['cards'][0]['simulator']=False
v('yubikeys.schema.json', y, 'NEG simulator false')
t=json.load(open(E+'tokens.json')); del t['allow_list']
v('tokens.schema.json', t, 'NEG no allow-list')
r=json.load(open(E+'import-report.json')); del r['requests'][0]['change']['after']['keys'][0]['fingerprint']
v('import-report.schema.json', r, 'NEG key without fingerprint')
r=json.load(open(E+'import-report.json')); del r['requests'][0]['change']['before']
v('import-report.schema.json', r, 'NEG change without before')
r=json.load(open(E+'verify-report.json')); r['files'][1]['verdict']='passed'
v('verify-report.schema.json', r, 'NEG verify verdict not one of the five')
l=json.loads(open('../../ceremony/transcript/testdata/kat/log.jsonl', 'rb').readline()); del l['body']['format']
v('transcript-line.schema.json', l, 'NEG first transcript line without format')
p=json.load(open(E+'partial/partial.json')); p['roles'][0]['metadata']='8.claimed.json'
v('partial.schema.json', p, 'NEG partial naming publishable metadata')
sys.exit(1 if failed else 0)
