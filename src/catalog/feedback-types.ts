// The shapes of suggestion feedback (what the model suggested for a published photo and what
// the seller kept), apart from the store (feedback.ts) so that types.ts can name them
// without importing the store's own imports.

/** What the seller did with a suggestion: kept it, changed it (to `final`), or left the field empty. */
export const FEEDBACK_OUTCOMES = ['accepted', 'corrected', 'dropped'] as const;
export type FeedbackOutcome = (typeof FEEDBACK_OUTCOMES)[number];

/** One suggestion the seller was shown for a photo, and what they published. */
export interface SuggestionFeedback {
  /** The model head that made it, e.g. `clothing`, `colour`. */
  head: string;
  label: string;
  /** The head's score for `label` on the published photo. */
  score: number;
  /** The listing field the head fills: `category`, or `attributes.NAME` (see src/pipelines/suggestion-feedback.ts). */
  field: string;
  outcome: FeedbackOutcome;
  /** The seller's value of that field as published; null when dropped. */
  final: string | null;
}

/** The suggestions shown for one photo of a product. */
export interface ImageFeedback {
  /** The photo's index in the product. */
  image: number;
  modelVersion: string;
  suggestions: SuggestionFeedback[];
}

/** How often one suggestion had one outcome, over the catalog (per `final` when corrected). */
export interface FeedbackCount {
  head: string;
  label: string;
  outcome: FeedbackOutcome;
  /** What sellers corrected it to; null for accepted and dropped. */
  final: string | null;
  count: number;
}
