// The shapes every capability exchanges: what the model says about one image.

export interface LabelScore {
  label: string;
  score: number;
}

export type HeadKind = 'single' | 'multi' | 'embedding';

export type HeadResult =
  | {
      kind: 'single';
      top: LabelScore[];
      abstain?: boolean;
      /** 'pixels' for attributes measured from the image rather than learned (colour). */
      source?: 'model' | 'pixels';
      /** Set where the head describes another kind of product than the photo shows (the vertical gate): abstained for that reason. */
      outOfVertical?: boolean;
    }
  | { kind: 'multi'; labels: LabelScore[]; outOfVertical?: boolean };

export interface Analysis {
  /** Classification heads by name. */
  heads: Record<string, HeadResult>;
  /** L2-normalised embedding for retrieval. */
  embedding: Float32Array;
  /** Binary code of the embedding, as a hex string (256 bits = 64 hex characters). */
  code: string;
  /** Identifies the model that produced this analysis (name@version). */
  modelVersion: string;
}

/** What catalog, search and server need from the model, so they can be tested with any implementation. */
export interface Analyzer {
  readonly modelVersion: string;
  /** Cosine similarity above which two images show the same product (calibrated, from model.json). */
  readonly exactMatchThreshold: number;
  /** Heads whose confident label marks where that threshold holds (model.json); absent: everywhere. */
  readonly exactMatchHeads?: readonly string[] | undefined;
  /** Head -> the kind of product it describes (model.json `vertical`), for heads that describe one. */
  readonly headVerticals?: Readonly<Record<string, string>> | undefined;
  /** Head -> what a person calls its field (model.json `title`), for heads that have one. */
  readonly headTitles?: Readonly<Record<string, string>> | undefined;
  readonly embeddingDim: number;
  /** Analyse encoded image bytes; each item either succeeds or fails alone. */
  analyzeBuffers(images: readonly Buffer[]): Promise<Array<Analysis | import('../errors.ts').GroknetError>>;
  close(): Promise<void>;
}
