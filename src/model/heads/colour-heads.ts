// Which heads name colours, by head name. It sits with the model because two layers above
// read it: the trainer keeps colour jitter away from such a head's datasets (train/config.ts)
// and a suggested listing takes its colour field from such a head (pipelines/suggest-listing.ts).

/** Heads that describe a colour; their label becomes the listing's colour field. */
export const COLOUR_HEADS = new Set(['colour', 'color']);
