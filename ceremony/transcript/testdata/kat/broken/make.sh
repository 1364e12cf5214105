#!/bin/sh
# Makes the damaged copies of ../log.jsonl with text tools only (sed, head,
# tail, printf, sha256sum), independently of Conclave's code. Run it from
# this directory; expected.json says what each one must give.
set -eu
log=../log.jsonl
line() { sed -n "$1p" "$log"; }
hash() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# A changed body: still valid and canonical, so line 3 itself verifies;
# line 4's prev no longer matches it.
sed '3s/"count":998/"count":999/' "$log" >edited-body.jsonl
# A space added: the same JSON value, but not the bytes that were hashed.
sed '2s/"bundle":"b-17"/"bundle": "b-17"/' "$log" >edited-spacing.jsonl
sed '3d' "$log" >deleted.jsonl
sed '3{h;d};4G' "$log" >reordered.jsonl
sed '2p' "$log" >duplicated.jsonl
sed '1p' "$log" >duplicated-first.jsonl
# A forged line 3 chained to line 2: the forgery verifies, the next
# line's seq does not.
forged=$(printf '{"body":{"count":1,"decision":"approve","who":"mallory"},"prev":"%s","seq":3,"time":"2026-12-03T09:19:00Z","type":"decided"}' "$(hash "$(line 2)")")
{ head -n 2 "$log"; printf '%s\n' "$forged"; tail -n +3 "$log"; } >inserted.jsonl
sed '1s/"ceremony":"2026-12-03-claimed-a"/"ceremony":"2026-12-03-claimed-b"/' "$log" >other-ceremony.jsonl
sed '1s/"format":"conclave-transcript\/1",//' "$log" >no-format.jsonl
sed '2G' "$log" >empty-line.jsonl
sed '2s/$/\r/' "$log" >crlf.jsonl
sed '4s/"type":"noted"}/"type":"noted","x":1}/' "$log" >unknown-member.jsonl
sed '3s/.*/decided: 998 approved/' "$log" >not-json.jsonl
sed '4s/"prev":"[0-9a-f]*"/"prev":"0000000000000000000000000000000000000000000000000000000000000000"/' "$log" >prev-forged.jsonl
sed '2s/"seq":2/"seq":"2"/' "$log" >seq-string.jsonl
sed '5s/"time":"2026-12-03T10:02:59Z"/"time":"2026-12-03T10:02:59+00:00"/' "$log" >time-offset.jsonl
# Damage the chain alone cannot show: only the head on the paper log does.
head -n 4 "$log" >cut.jsonl
sed '5s/"body":{}/"body":{"abandoned":true}/' "$log" >last-edited.jsonl
# A crash in the middle of writing line 6: the log as it was, and a torn
# tail that is not an error.
{ cat "$log"; printf '{"body":{"bun'; } >torn.jsonl
