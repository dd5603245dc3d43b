// Iterative quantization (Gong & Lazebnik, 2011): a rotation R of the centred embeddings
// whose sign bits lose as little as possible, found by alternating B = sign(V R) and the
// orthogonal Procrustes solution R = U W^T of V^T B = U S W^T. ml-matrix does the SVDs.
import { Matrix, SVD } from 'ml-matrix';
import { rng } from './fit-heads.ts';

export interface ItqResult {
  /** Row-major [dim, dim] rotation applied to the centred embedding before taking signs. */
  rotation: Float32Array;
  mean: Float32Array;
  /** Mean squared quantisation error ||sign(VR) - VR||^2 / n per iteration (should fall). */
  errors: number[];
}

export function learnItq(embeddings: Float32Array, dim: number, iterations = 30, seed = 1, maxRows = 4000): ItqResult {
  const total = embeddings.length / dim;
  const step = Math.max(1, Math.floor(total / maxRows));
  const rows: number[] = [];
  for (let r = 0; r < total && rows.length < maxRows; r += step) rows.push(r);
  const mean = new Float32Array(dim);
  for (let r = 0; r < total; r++) for (let j = 0; j < dim; j++) mean[j]! += embeddings[r * dim + j]! / total;
  const V = new Matrix(rows.map((r) => Array.from({ length: dim }, (_, j) => embeddings[r * dim + j]! - mean[j]!)));
  // Start from a random orthogonal matrix (the U factor of a random Gaussian matrix).
  const random = rng(seed);
  const gaussian = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
  let R = new SVD(new Matrix(Array.from({ length: dim }, () => Array.from({ length: dim }, gaussian)))).leftSingularVectors;
  const errors: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const projected = V.mmul(R);
    const B = projected.clone().apply(function (this: Matrix, r: number, c: number) {
      this.set(r, c, this.get(r, c) >= 0 ? 1 : -1);
    });
    errors.push(B.clone().sub(projected).norm('frobenius') ** 2 / rows.length);
    const svd = new SVD(V.transpose().mmul(B));
    R = svd.leftSingularVectors.mmul(svd.rightSingularVectors.transpose());
  }
  return { rotation: Float32Array.from(R.to1DArray()), mean, errors };
}
