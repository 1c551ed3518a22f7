#!/usr/bin/env python3
"""Summarise a libiscsi iscsi-test-cu log (CUnit verbose mode).

Per test CUnit prints "  Test: Name ...<output>passed" or "...FAILED" followed by
numbered assertion lines. libiscsi reports a skipped test as a CUnit pass with a
"[SKIPPED] why" line in its output, so a real pass is "passed" without [SKIPPED].

Usage: cu_summary.py LOG [--json]
Prints "passed=N failed=M skipped=K total=T" and one line per failed/skipped test.
"""
import json
import re
import sys


def parse(text):
    """Return [(suite, test, status, messages)], status in passed/FAILED/skipped/incomplete."""
    results = []
    suite = None
    cur = None            # [suite, test, messages] of a test whose result is not seen yet
    last_failed = None    # messages list of the last FAILED test (assertion lines follow)

    def result(word):
        nonlocal cur, last_failed
        status = word
        if word == 'passed' and any('[SKIPPED]' in x for x in cur[2]):
            status = 'skipped'
        results.append((cur[0], cur[1], status, cur[2]))
        last_failed = cur[2] if word == 'FAILED' else None
        cur = None

    for line in text.splitlines():
        m = re.match(r'^Suite: (.*)$', line)
        if m:
            if cur is not None:
                results.append((cur[0], cur[1], 'incomplete', cur[2]))
                cur = None
            suite = m.group(1).strip()
            last_failed = None
            continue
        m = re.match(r'^  Test: (\S+) \.\.\.(.*)$', line)
        if m:
            if cur is not None:
                results.append((cur[0], cur[1], 'incomplete', cur[2]))
            cur = [suite, m.group(1), []]
            last_failed = None
            rest = m.group(2).rstrip()
            for word in ('passed', 'FAILED'):
                if rest.startswith(word):       # result first, teardown output after it
                    result(word)
                    break
                if rest.endswith(word) and not rest.endswith('[' + word + ']'):
                    if rest[:-len(word)].strip():
                        cur[2].append(rest[:-len(word)].strip())
                    result(word)
                    break
            else:
                if rest.strip():
                    cur[2].append(rest.strip())
            continue
        if cur is not None:
            s = line.strip()
            if s in ('passed', 'FAILED'):
                result(s)
            elif s:
                cur[2].append(s)
            continue
        if last_failed is not None and re.match(r'^\s+\d+\. ', line):
            last_failed.append(line.strip())
        elif line.strip():
            last_failed = None
    if cur is not None:
        results.append((cur[0], cur[1], 'incomplete', cur[2]))
    return results


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], errors='replace') as f:
        text = f.read()
    res = parse(text)
    counts = {'passed': 0, 'FAILED': 0, 'skipped': 0, 'incomplete': 0}
    for r in res:
        counts[r[2]] += 1
    summary = re.search(r'^\s+tests\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)', text, re.M)
    out = {
        'passed': counts['passed'], 'failed': counts['FAILED'],
        'skipped': counts['skipped'], 'incomplete': counts['incomplete'],
        'total': len(res),
        'cunit_summary': summary.group(0).strip() if summary else None,
        'failures': [{'suite': s, 'test': t, 'messages': m} for s, t, st, m in res
                     if st in ('FAILED', 'incomplete')],
        'skips': [{'suite': s, 'test': t, 'messages': m} for s, t, st, m in res
                  if st == 'skipped'],
    }
    if '--json' in sys.argv:
        print(json.dumps(out, indent=1))
        return 0
    print('passed=%d failed=%d skipped=%d incomplete=%d total=%d' % (
        out['passed'], out['failed'], out['skipped'], out['incomplete'], out['total']))
    print('cunit: %s' % out['cunit_summary'])
    for f in out['failures']:
        first = next((m for m in f['messages'] if '[FAILED]' in m or re.match(r'\d+\.', m)), '')
        print('FAILED %s.%s: %s' % (f['suite'], f['test'], ' | '.join(f['messages'][:4])[:400]))
    if '--skips' in sys.argv:
        for f in out['skips']:
            print('SKIPPED %s.%s: %s' % (f['suite'], f['test'],
                                          next((m for m in f['messages'] if '[SKIPPED]' in m), '')))
    return 0


if __name__ == '__main__':
    sys.exit(main())
