// The converter's failure modes: unknown ops, outputs that are not in the graph, and
// graphs it cannot express, each reported as a GroknetError with a stable code.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GroknetError } from '../../../src/errors.ts';
import { convertTfjsGraphToOnnx } from '../../../src/model/convert/tfjs-to-onnx.ts';
import { attr, TinyGraph } from './tiny-graph.ts';

function graphWith(op: string): TinyGraph {
  const g = new TinyGraph();
  const x = g.input('x', [1, 4, 4, 3]);
  const mystery = g.node('mystery', op, [x]);
  g.node('out', 'Relu', [mystery]);
  return g;
}

function assertGroknetError(fn: () => unknown, code: string, mentions: string[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof GroknetError, `expected a GroknetError, got ${String(error)}`);
    assert.equal(error.code, code);
    for (const text of mentions) assert.ok(error.message.includes(text), `"${error.message}" should mention ${text}`);
    return true;
  });
}

describe('conversion errors', () => {
  it('an unknown op fails with unsupported_op naming it', () => {
    assertGroknetError(() => convertTfjsGraphToOnnx(graphWith('FancyNewOp').build(), { outputs: ['out'] }), 'unsupported_op', ['FancyNewOp']);
  });

  it('lists every unsupported op at once, before any work', () => {
    const g = graphWith('FancyNewOp');
    g.node('other', 'NonMaxSuppressionV5', ['out']);
    g.node('other2', 'NonMaxSuppressionV5', ['out']);
    g.node('final', 'ConcatV2', ['other', 'other2', g.ints('axis', [0], [])], { N: attr.i(2) });
    assertGroknetError(() => convertTfjsGraphToOnnx(g.build(), { outputs: ['final'] }), 'unsupported_op', [
      'FancyNewOp',
      'NonMaxSuppressionV5 (2 nodes)',
    ]);
  });

  it('an unsupported op outside the requested outputs is pruned, not reported', () => {
    const g = graphWith('FancyNewOp');
    g.node('fine', 'Sigmoid', ['x']);
    const bytes = convertTfjsGraphToOnnx(g.build(), { outputs: ['fine'] });
    assert.ok(bytes.byteLength > 0);
  });

  it('a requested output that is not in the graph fails with conversion_failed', () => {
    const g = graphWith('Relu');
    assertGroknetError(() => convertTfjsGraphToOnnx(g.build(), { outputs: ['out', 'no/such/node'] }), 'conversion_failed', ['no/such/node']);
  });

  it('a node output index that does not exist fails with conversion_failed', () => {
    const g = graphWith('Relu');
    assertGroknetError(() => convertTfjsGraphToOnnx(g.build(), { outputs: ['out:3'] }), 'conversion_failed', ['out:3']);
  });

  it('a filter that is not a constant fails with conversion_failed naming the node', () => {
    const g = new TinyGraph();
    const x = g.input('x', [1, 4, 4, 3]);
    const conv = g.node('conv', 'Conv2D', [x, x], { strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') });
    assertGroknetError(() => convertTfjsGraphToOnnx(g.build(), { outputs: [conv] }), 'conversion_failed', ['conv', 'filter']);
  });
});
