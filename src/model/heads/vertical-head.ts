// The head that names the kind of product a photo shows (fashion, grocery, home, ...). It sits
// with the model because two layers read it: the run-time gate (pipelines/vertical-gate.ts)
// and the end-to-end evaluation (train/eval-model.ts).
export const VERTICAL_HEAD = 'vertical';
