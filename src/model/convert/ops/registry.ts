// Every TF op the converter handles, by name. Const and Placeholder are handled by the
// converter itself (they become initializers and the graph input).
import { convOps } from './conv.ts';
import { elementwiseOps } from './elementwise.ts';
import { integerOps } from './integer.ts';
import { matmulOps } from './matmul.ts';
import { poolOps } from './pool.ts';
import { resizeOps } from './resize.ts';
import { shapeOps } from './shape.ts';
import type { OpConverter, OpTable } from './types.ts';

export const OP_CONVERTERS: OpTable = {
  ...convOps,
  ...elementwiseOps,
  ...poolOps,
  ...shapeOps,
  ...matmulOps,
  ...resizeOps,
  ...integerOps,
};

export function converterFor(op: string): OpConverter | undefined {
  return Object.hasOwn(OP_CONVERTERS, op) ? OP_CONVERTERS[op] : undefined;
}
