// Words shoppers type -> words a label vocabulary is likely to use. Small on purpose: the
// label vocabularies come from the model, this only bridges the common gaps. Each entry is
// tried in order; the first alternative found in a catalog vocabulary wins.

export const SYNONYMS: Readonly<Record<string, readonly string[]>> = {
  // furniture
  loveseat: ['sofa', 'couch'],
  'love seat': ['sofa', 'couch'],
  settee: ['sofa', 'couch'],
  couch: ['sofa'],
  sofa: ['couch'],
  armchair: ['chair'],
  stool: ['chair'],
  nightstand: ['bedside table', 'table'],
  desk: ['table'],
  bookcase: ['shelf'],
  lamp: ['light'],
  light: ['lamp'],
  // clothing
  tee: ['t-shirt', 'tshirt', 't shirt', 'shirt'],
  tshirt: ['t-shirt', 't shirt', 'shirt'],
  't shirt': ['t-shirt', 'tshirt', 'shirt'],
  trousers: ['pants'],
  pants: ['trousers'],
  jeans: ['pants', 'trousers'],
  slacks: ['pants', 'trousers'],
  sneakers: ['shoes', 'sneaker'],
  trainers: ['shoes', 'sneakers'],
  kicks: ['shoes', 'sneakers'],
  boots: ['shoes'],
  sandals: ['shoes'],
  hoodie: ['sweatshirt', 'sweater'],
  jumper: ['sweater'],
  sweater: ['jumper'],
  pullover: ['sweater'],
  coat: ['jacket'],
  jacket: ['coat'],
  purse: ['handbag', 'bag'],
  handbag: ['bag'],
  tote: ['bag'],
  backpack: ['bag'],
  cap: ['hat'],
  beanie: ['hat'],
  // electronics
  cellphone: ['phone', 'mobile phone'],
  smartphone: ['phone', 'mobile phone'],
  mobile: ['phone'],
  laptop: ['notebook', 'computer'],
  tv: ['television'],
  television: ['tv'],
  bike: ['bicycle'],
  bicycle: ['bike'],
  // colours
  gray: ['grey'],
  grey: ['gray'],
  navy: ['blue'],
  turquoise: ['blue', 'green'],
  teal: ['green', 'blue'],
  crimson: ['red'],
  scarlet: ['red'],
  burgundy: ['red'],
  maroon: ['red'],
  violet: ['purple'],
  lilac: ['purple'],
  lavender: ['purple'],
  magenta: ['pink', 'purple'],
  gold: ['yellow'],
  golden: ['yellow'],
  mustard: ['yellow'],
  beige: ['brown', 'white'],
  tan: ['brown'],
  silver: ['grey', 'gray'],
  ivory: ['white'],
  cream: ['white'],
};

/** Colour words: when one matches several heads, a colour head is preferred. */
export const COLOUR_WORDS = new Set([
  'red', 'orange', 'yellow', 'green', 'blue', 'purple', 'pink', 'brown', 'black', 'white', 'grey', 'gray',
  'beige', 'navy', 'gold', 'silver', 'teal', 'turquoise', 'violet', 'maroon', 'burgundy', 'crimson',
  'cream', 'ivory', 'tan', 'mustard', 'lilac', 'lavender', 'magenta', 'scarlet', 'golden',
]);

/** Words that carry no meaning for product search. */
export const STOP_WORDS = new Set([
  'a', 'an', 'the', 'and', 'or', 'of', 'for', 'with', 'in', 'on', 'to', 'by', 'at', 'my', 'me', 'i',
  'some', 'any', 'show', 'find', 'want', 'need', 'looking', 'search', 'please', 'that', 'this', 'is',
]);

/**
 * Style words: a shopper types them, but no dataset groknet trains on labels style, so the
 * model cannot see it. A query word from here that names no label of the catalog is matched
 * as text only, and the answer says so rather than guessing from the photo.
 */
export const STYLE_WORDS = new Set([
  'mid-century', 'midcentury', 'mid century', 'modern', 'contemporary', 'vintage', 'retro', 'antique', 'rustic',
  'scandinavian', 'nordic', 'industrial', 'boho', 'bohemian', 'minimalist', 'farmhouse', 'traditional', 'classic',
  'victorian', 'art deco', 'shabby chic', 'coastal', 'preppy', 'grunge', 'streetwear', 'elegant',
]);

/**
 * Words written as one that shoppers also write as two ("Tshirts" in catalogue titles,
 * "t-shirt" in queries): a listing's word counts as both spellings when its words are matched.
 */
export const JOINED_WORDS: Readonly<Record<string, readonly string[]>> = {
  tshirt: ['t', 'shirt'],
  sweatshirt: ['sweat', 'shirt'],
};

