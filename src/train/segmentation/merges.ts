// Label merges the decoder may be trained with. Clothing Co-Parsing names shoes eleven
// ways (boots, heels, pumps, ...), most with a few dozen small examples; their pixels
// look alike at 1/8 resolution, so a decoder wastes its capacity telling them apart and
// scores near zero on each. Merged, they form one class written as 'shoes'.
export const SHOE_MERGE: Readonly<Record<string, string>> = {
  boots: 'shoes',
  clogs: 'shoes',
  flats: 'shoes',
  heels: 'shoes',
  loafers: 'shoes',
  pumps: 'shoes',
  sandals: 'shoes',
  sneakers: 'shoes',
  wedges: 'shoes',
};

/**
 * A coarser garment taxonomy for shop-the-look, each group written as one of its own
 * labels. Clothing Co-Parsing's 59 labels include near-synonyms that its annotators
 * themselves use interchangeably (blouse / shirt / t-shirt / top, coat / jacket / blazer /
 * cape, pants / jeans / leggings) and jewellery a few pixels wide; a frozen trunk with
 * 770 training masks tells them apart barely better than chance, while the groups are
 * what a buyer searches for anyway ("red dress", "black shoes").
 */
export const GARMENT_GROUPS: Readonly<Record<string, string>> = {
  ...SHOE_MERGE,
  blouse: 'top',
  shirt: 'top',
  't-shirt': 'top',
  bodysuit: 'top',
  bra: 'top',
  vest: 'top',
  sweatshirt: 'sweater',
  hoodie: 'sweater',
  jumper: 'sweater',
  cardigan: 'sweater',
  jacket: 'coat',
  blazer: 'coat',
  cape: 'coat',
  romper: 'dress',
  jeans: 'pants',
  leggings: 'pants',
  tights: 'stockings',
  socks: 'stockings',
  purse: 'bag',
  wallet: 'bag',
  glasses: 'sunglasses',
  bracelet: 'accessories',
  earrings: 'accessories',
  necklace: 'accessories',
  ring: 'accessories',
  watch: 'accessories',
  gloves: 'accessories',
  tie: 'accessories',
};
