// AdamW over named Float32Array parameters, for the layers trained outside TF.js (the
// backbone blocks whose forward and gradients are ONNX Runtime graphs). Decoupled weight
// decay on the kernels only (names starting with 'w'), as for the heads.
export class ParamAdamW<P extends string> {
  readonly weights: Record<P, Float32Array>;
  private readonly m: Record<P, Float32Array>;
  private readonly v: Record<P, Float32Array>;
  private t = 0;

  constructor(
    private readonly params: readonly P[],
    initial: Record<P, Float32Array>,
    private readonly weightDecay: number,
  ) {
    const copies = (make: (a: Float32Array) => Float32Array) => Object.fromEntries(params.map((p) => [p, make(initial[p])])) as Record<P, Float32Array>;
    this.weights = copies((a) => Float32Array.from(a));
    this.m = copies((a) => new Float32Array(a.length));
    this.v = copies((a) => new Float32Array(a.length));
  }

  step(grads: Record<P, Float32Array>, learningRate: number): void {
    this.t++;
    const c1 = 1 - 0.9 ** this.t;
    const c2 = 1 - 0.999 ** this.t;
    for (const name of this.params) {
      const [w, g, mm, vv] = [this.weights[name], grads[name], this.m[name], this.v[name]];
      if (g.length !== w.length) throw new Error(`gradient of ${name} has ${g.length} values, the weight ${w.length}`);
      const decay = name.startsWith('w') ? this.weightDecay : 0;
      for (let i = 0; i < w.length; i++) {
        mm[i] = 0.9 * mm[i]! + 0.1 * g[i]!;
        vv[i] = 0.999 * vv[i]! + 0.001 * g[i]! * g[i]!;
        w[i] = w[i]! - learningRate * (mm[i]! / c1 / (Math.sqrt(vv[i]! / c2) + 1e-8) + decay * w[i]!);
      }
    }
  }

  /** Weights, first and second moments per parameter in order, then the step count. */
  state(): Float32Array[] {
    return [...this.params.flatMap((p) => [this.weights[p], this.m[p], this.v[p]]), Float32Array.of(this.t)];
  }

  restore(state: readonly Float32Array[]): void {
    if (state.length !== this.params.length * 3 + 1) throw new Error('the checkpoint does not match these layers');
    this.params.forEach((p, i) => {
      this.weights[p].set(state[i * 3]!);
      this.m[p].set(state[i * 3 + 1]!);
      this.v[p].set(state[i * 3 + 2]!);
    });
    this.t = state.at(-1)![0]!;
  }
}
