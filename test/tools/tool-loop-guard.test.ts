import { canonicalJson, LOOP_WARNING_IDX, loopBlockedText, loopWarningText, ToolLoopGuard } from '../../workflows/tool-loop-guard.js';

describe('ToolLoopGuard', () => {
  it('lets a first call through, warns on the first repeat and blocks every further one', () => {
    const guard = new ToolLoopGuard();
    const call = { name: 'shell', input: { command: 'ls' } };
    expect(guard.check(call)).toBe('ok');
    expect(guard.check(call)).toBe('warn');
    expect(guard.check(call)).toBe('block');
    expect(guard.check(call)).toBe('block');
    expect(guard.timesSeen(call)).toBe(4);
  });

  it('treats the same arguments in another key order as the same call', () => {
    const guard = new ToolLoopGuard();
    expect(guard.check({ name: 'file_read', input: { path: 'a.txt', offset: 1, extra: { y: 1, x: [2, { b: 1, a: 2 }] } } })).toBe('ok');
    expect(guard.check({ name: 'file_read', input: { extra: { x: [2, { a: 2, b: 1 }], y: 1 }, offset: 1, path: 'a.txt' } })).toBe('warn');
  });

  it('keeps different arguments and different tools apart', () => {
    const guard = new ToolLoopGuard();
    expect(guard.check({ name: 'shell', input: { command: 'ls' } })).toBe('ok');
    expect(guard.check({ name: 'shell', input: { command: 'ls -la' } })).toBe('ok');
    expect(guard.check({ name: 'file_list', input: { command: 'ls' } })).toBe('ok');
    expect(guard.check({ name: 'shell', input: { command: 'ls', timeout_seconds: 5 } })).toBe('ok');
    expect(guard.check({ name: 'shell', input: ['ls'] })).toBe('ok');
  });

  it('never warns about exempt tools', () => {
    const guard = new ToolLoopGuard({ exempt: ['set_status'] });
    const call = { name: 'set_status', input: { status: 'working' } };
    expect([guard.check(call), guard.check(call), guard.check(call)]).toEqual(['ok', 'ok', 'ok']);
  });

  it('screens a step\'s call into the context entries it adds: a warning after the results, or the blocked call\'s error result', () => {
    const guard = new ToolLoopGuard();
    const call = { id: 'call-7', name: 'shell', input: { command: 'ls' } };
    const at = { turnSeq: 3, step: 2, idx: 4 };
    expect(guard.screen(call, at)).toEqual({ run: true });
    expect(guard.screen(call, at)).toEqual({ run: true, warning: { turnSeq: 3, step: 2, idx: LOOP_WARNING_IDX + 4, role: 'user', text: loopWarningText(call) } });
    expect(guard.screen(call, at)).toEqual({ run: false, blocked: { turnSeq: 3, step: 2, idx: 5, role: 'tool', toolCallId: 'call-7', text: loopBlockedText(call), isError: true } });
  });

  it('explains warnings and blocks by tool name', () => {
    const call = { name: 'file_read', input: { path: 'a' } };
    expect(loopWarningText(call)).toMatch(/^You already called file_read with these same arguments.*try something different/);
    expect(loopBlockedText(call)).toMatch(/^Blocked: file_read was already called with exactly these arguments.*not run/);
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every depth, keeps array order and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1], c: undefined, e: null } })).toBe('{"a":{"d":[3,1],"e":null},"b":1}');
    expect(canonicalJson([undefined, 'x'])).toBe('[null,"x"]');
    expect(canonicalJson(undefined)).toBe('null');
  });
});
