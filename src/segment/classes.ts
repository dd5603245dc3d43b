// The decoder's output classes and the clothing-parsing label each stands for. The mask a
// user gets always holds indices into the dataset's own label list (0 = background,
// 'null'), whatever the decoder was trained on: a class may stand for several labels
// merged into one (e.g. every kind of shoe into 'shoes') when the data is too thin to tell
// them apart, and then it writes the label it was merged into.
import { GroknetError } from '../errors.ts';

/** Labels that are not garments: never offered as products. */
export const NOT_GARMENTS: ReadonlySet<string> = new Set(['null', 'skin', 'hair']);

export const BACKGROUND_LABEL = 'null';

export interface ClassMap {
  /** The clothing-parsing label list; mask values index it. */
  labels: string[];
  /** Label index written for each decoder class. */
  classLabels: number[];
  /** Decoder class of each label index; -1 for labels the decoder never predicts (ignored in training). */
  classOfLabel: Int32Array;
}

/**
 * Classes from the label list: labels merged as `merge` says (label -> label it joins),
 * labels without training pixels dropped (they could only ever be wrong), background first.
 */
export function buildClassMap(labels: readonly string[], merge: Readonly<Record<string, string>>, keep: (label: string) => boolean): ClassMap {
  if (labels[0] !== BACKGROUND_LABEL) throw new GroknetError('invalid_labels', `label 0 must be '${BACKGROUND_LABEL}' (background), got '${labels[0]}'`);
  const indexOf = new Map(labels.map((l, i) => [l, i]));
  for (const [from, to] of Object.entries(merge)) {
    if (!indexOf.has(from) || !indexOf.has(to)) throw new GroknetError('invalid_labels', `cannot merge '${from}' into '${to}': unknown label`);
    if (merge[to] !== undefined) throw new GroknetError('invalid_labels', `'${to}' is itself merged; merge '${from}' into its target`);
  }
  const target = (label: string): string => merge[label] ?? label;
  const classLabels: number[] = [];
  const classOfTarget = new Map<string, number>();
  const classOfLabel = new Int32Array(labels.length).fill(-1);
  labels.forEach((label, i) => {
    const t = target(label);
    // A merged class exists when any of its members has pixels; background always exists.
    const members = labels.filter((l) => target(l) === t);
    if (i !== 0 && !members.some(keep)) return;
    if (!classOfTarget.has(t)) {
      classOfTarget.set(t, classLabels.length);
      classLabels.push(indexOf.get(t)!);
    }
    classOfLabel[i] = classOfTarget.get(t)!;
  });
  return { labels: [...labels], classLabels, classOfLabel };
}

/** The same class map rebuilt from what a manifest stores. */
export function classMapFrom(labels: readonly string[], classLabels: readonly number[], merged: Readonly<Record<string, string>>): ClassMap {
  const classOfLabel = new Int32Array(labels.length).fill(-1);
  classLabels.forEach((labelIndex, c) => {
    classOfLabel[labelIndex] = c;
  });
  labels.forEach((label, i) => {
    const into = merged[label];
    if (into !== undefined) classOfLabel[i] = classOfLabel[labels.indexOf(into)] ?? -1;
  });
  return { labels: [...labels], classLabels: [...classLabels], classOfLabel };
}

/** Maps a mask of label indices through the merge (what a perfect decoder would write). */
export function mergeMask(mask: Uint8Array, map: ClassMap): Uint8Array {
  const out = new Uint8Array(mask.length);
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) {
    const c = v < map.classOfLabel.length ? map.classOfLabel[v]! : -1;
    lut[v] = c >= 0 ? map.classLabels[c]! : v;
  }
  for (let i = 0; i < mask.length; i++) out[i] = lut[mask[i]!]!;
  return out;
}
