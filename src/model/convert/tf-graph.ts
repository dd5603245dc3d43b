// Graph plumbing over model.json nodes: lookup by name, the data inputs of a node, and the
// nodes (in dependency order) needed to compute a set of outputs — everything else is pruned.
import { GroknetError } from '../../errors.ts';
import type { TfjsModelJson, TfNodeDef } from '../tfjs/model-json.ts';
import { parseRef } from './context.ts';

export function indexNodes(model: TfjsModelJson): Map<string, TfNodeDef> {
  return new Map(model.modelTopology.node.map((n) => [n.name, n]));
}

/** Inputs that carry data (control dependencies "^name" dropped). */
export function dataInputs(node: TfNodeDef): string[] {
  return (node.input ?? []).filter((i) => !i.startsWith('^'));
}

/** Nodes the outputs depend on, each after its inputs. */
export function requiredNodes(nodes: ReadonlyMap<string, TfNodeDef>, outputs: readonly string[]): TfNodeDef[] {
  const order: TfNodeDef[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  for (const out of outputs) {
    // iterative DFS: real graphs are deep enough to overflow a recursive one
    const stack: Array<{ name: string; expanded: boolean }> = [{ name: parseRef(out).node, expanded: false }];
    while (stack.length > 0) {
      const top = stack.pop() as { name: string; expanded: boolean };
      if (state.get(top.name) === 'done') continue;
      const node = nodes.get(top.name);
      if (!node) throw new GroknetError('conversion_failed', `node ${top.name} is referenced but not in the graph`);
      if (top.expanded) {
        state.set(top.name, 'done');
        order.push(node);
        continue;
      }
      if (state.get(top.name) === 'visiting') throw new GroknetError('conversion_failed', `the graph has a cycle through ${top.name}`);
      state.set(top.name, 'visiting');
      stack.push({ name: top.name, expanded: true });
      for (const input of dataInputs(node).reverse()) {
        const dep = parseRef(input).node;
        if (state.get(dep) !== 'done') stack.push({ name: dep, expanded: false });
      }
    }
  }
  return order;
}
