// Where each category head's labels sit in a shop's category tree ("vertical"), so a
// suggested listing can say `fashion > clothing > T-Shirt` or `grocery > Fruit > Apple`.
// Heads not listed here are attributes, not categories; a head named `category` is a
// category whose labels are already paths ("a > b > c").

export interface Vertical {
  /** Category path of a label, root first, the label itself last. */
  path(label: string): string[];
  /** A coarser head of the same vertical; a confident fine label refines its parent's choice. */
  refines?: { head: string; parent(label: string): string };
  /** Words for a title, e.g. "Golden Delicious Apple" for Golden-Delicious. */
  titleWords?(label: string): string;
}

const CLOTHING_GROUP: Record<string, string> = { Shoes: 'footwear', Hat: 'accessories' };

// fashion_article (the catalogue's articleType, merged as src/train/datasets/fashion-products.ts says).
const ARTICLE_GROUP: Record<string, string> = {
  'Casual Shoes': 'footwear', 'Sports Shoes': 'footwear', 'Formal Shoes': 'footwear', Heels: 'footwear', Sandals: 'footwear',
  'Flip Flops': 'footwear', Flats: 'footwear', Socks: 'footwear',
  Watches: 'accessories', Handbags: 'accessories', Sunglasses: 'accessories', Wallets: 'accessories', Belts: 'accessories',
  Backpacks: 'accessories', Caps: 'accessories', Ties: 'accessories', Scarves: 'accessories', 'Accessory Gift Set': 'accessories',
  Fragrance: 'personal care',
};
/** Catalogue names as a category path shows them, where the catalogue's spelling is not a word people type ("Tshirts"). */
const ARTICLE_PATH: Record<string, string> = { Tshirts: 'T-Shirts', 'Innerwear Vests': 'Vests' };
/** Plural catalogue names read as one item in a title ("Tshirts" -> "T-Shirt"). */
const ARTICLE_TITLE: Record<string, string> = {
  Tshirts: 'T-Shirt', Shirts: 'Shirt', Tops: 'Top', Kurtas: 'Kurta', Watches: 'Watch', Handbags: 'Handbag', Sweaters: 'Sweater',
  Wallets: 'Wallet', Belts: 'Belt', Sweatshirts: 'Sweatshirt', Jackets: 'Jacket', Backpacks: 'Backpack', 'Innerwear Vests': 'Vest',
  Caps: 'Cap', Ties: 'Tie', Dresses: 'Dress', Skirts: 'Skirt', Scarves: 'Scarf',
};

const GROCERY_SECTIONS: Record<string, string[]> = {
  Fruit: [
    'Apple', 'Avocado', 'Banana', 'Kiwi', 'Lemon', 'Lime', 'Mango', 'Melon', 'Nectarine', 'Orange', 'Papaya',
    'Passion-Fruit', 'Peach', 'Pear', 'Pineapple', 'Plum', 'Pomegranate', 'Red-Grapefruit', 'Satsumas',
  ],
  Packages: ['Juice', 'Milk', 'Oat-Milk', 'Oatghurt', 'Sour-Cream', 'Sour-Milk', 'Soy-Milk', 'Soyghurt', 'Yoghurt'],
  Vegetables: [
    'Asparagus', 'Aubergine', 'Cabbage', 'Carrots', 'Cucumber', 'Garlic', 'Ginger', 'Leek', 'Mushroom', 'Onion',
    'Pepper', 'Potato', 'Red-Beet', 'Tomato', 'Zucchini',
  ],
};

// Fine grocery products whose coarse class is not their own name (Grocery Store dataset, classes.csv).
const GROCERY_PARENTS: Record<string, string[]> = {
  Apple: ['Golden-Delicious', 'Granny-Smith', 'Pink-Lady', 'Red-Delicious', 'Royal-Gala'],
  Juice: [
    'Bravo-Apple-Juice', 'Bravo-Orange-Juice', 'God-Morgon-Apple-Juice', 'God-Morgon-Orange-Juice',
    'God-Morgon-Orange-Red-Grapefruit-Juice', 'God-Morgon-Red-Grapefruit-Juice', 'Tropicana-Apple-Juice',
    'Tropicana-Golden-Grapefruit', 'Tropicana-Juice-Smooth', 'Tropicana-Mandarin-Morning',
  ],
  Melon: ['Cantaloupe', 'Galia-Melon', 'Honeydew-Melon', 'Watermelon'],
  Milk: [
    'Arla-Ecological-Medium-Fat-Milk', 'Arla-Lactose-Medium-Fat-Milk', 'Arla-Medium-Fat-Milk', 'Arla-Standard-Milk',
    'Garant-Ecological-Medium-Fat-Milk', 'Garant-Ecological-Standard-Milk',
  ],
  Mushroom: ['Brown-Cap-Mushroom'],
  'Oat-Milk': ['Oatly-Oat-Milk'],
  Oatghurt: ['Oatly-Natural-Oatghurt'],
  Onion: ['Yellow-Onion'],
  Pear: ['Anjou', 'Conference', 'Kaiser'],
  Pepper: ['Green-Bell-Pepper', 'Orange-Bell-Pepper', 'Red-Bell-Pepper', 'Yellow-Bell-Pepper'],
  Potato: ['Floury-Potato', 'Solid-Potato', 'Sweet-Potato'],
  'Sour-Cream': ['Arla-Ecological-Sour-Cream', 'Arla-Sour-Cream'],
  'Sour-Milk': ['Arla-Sour-Milk'],
  'Soy-Milk': ['Alpro-Fresh-Soy-Milk', 'Alpro-Shelf-Soy-Milk'],
  Soyghurt: ['Alpro-Blueberry-Soyghurt', 'Alpro-Vanilla-Soyghurt'],
  Tomato: ['Beef-Tomato', 'Regular-Tomato', 'Vine-Tomato'],
  Yoghurt: [
    'Arla-Mild-Vanilla-Yoghurt', 'Arla-Natural-Mild-Low-Fat-Yoghurt', 'Arla-Natural-Yoghurt', 'Valio-Vanilla-Yoghurt',
    'Yoggi-Strawberry-Yoghurt', 'Yoggi-Vanilla-Yoghurt',
  ],
};

const sectionOf = invert(GROCERY_SECTIONS);
const parentOf = invert(GROCERY_PARENTS);

function invert(groups: Record<string, string[]>): Map<string, string> {
  return new Map(Object.entries(groups).flatMap(([group, members]) => members.map((m) => [m, group] as const)));
}

/** "Golden-Delicious" -> "Golden Delicious". */
export function humanize(label: string): string {
  return label.replace(/[-_]+/g, ' ').replace(/\s+/g, ' ').trim();
}

const groceryCoarse = (label: string): string => parentOf.get(label) ?? label;

export const VERTICALS: Record<string, Vertical> = {
  clothing: {
    path: (label) => ['fashion', CLOTHING_GROUP[label] ?? 'clothing', label],
    // Clothing labels are already words ("T-Shirt" keeps its hyphen).
    titleWords: (label) => (label === 'Other' ? 'Clothing item' : label),
  },
  grocery_coarse: {
    path: (label) => ['grocery', sectionOf.get(label) ?? 'Other', label],
  },
  grocery_fine: {
    path: (label) => {
      const coarse = groceryCoarse(label);
      return coarse === label ? ['grocery', sectionOf.get(coarse) ?? 'Other', label] : ['grocery', sectionOf.get(coarse) ?? 'Other', coarse, label];
    },
    refines: { head: 'grocery_coarse', parent: groceryCoarse },
    titleWords: (label) => {
      const words = humanize(label);
      const coarse = humanize(groceryCoarse(label));
      // "Anjou" alone says little; "Anjou Pear" does. Skip when the name already says it.
      return words.toLowerCase().includes(coarse.toLowerCase()) ? words : `${words} ${coarse}`;
    },
  },
  fashion_article: {
    path: (label) => ['fashion', ARTICLE_GROUP[label] ?? 'clothing', ARTICLE_PATH[label] ?? label],
    titleWords: (label) => ARTICLE_TITLE[label] ?? label,
  },
  furniture: {
    path: (label) => ['home', 'furniture', label === 'swivelchair' ? 'swivel chair' : label],
    titleWords: (label) => (label === 'swivelchair' ? 'Swivel chair' : label.charAt(0).toUpperCase() + label.slice(1)),
  },
  category: {
    path: (label) => label.split(/\s*(?:>|\/)\s*/).filter((part) => part.length > 0),
  },
};

/**
 * Heads left out of suggested listings: fashion_mnist learned 28x28 greyscale thumbnails, a
 * different image statistic on purpose (it shapes the shared layers); on photos the
 * clothing head is the one to trust. `vertical` is the category path's root already, and
 * gates the other heads (vertical-gate.ts) rather than being a field of its own.
 */
export const LISTING_IGNORED_HEADS = new Set(['fashion_mnist', 'vertical']);

/**
 * Attribute and tag heads that only make sense within one vertical (garment tags on a carton of
 * milk do not, nor "Men" on a bed): a listing takes them only when its category is sure and of
 * that vertical. The vertical gate (vertical-gate.ts) already silences them where the vertical
 * head leans to another vertical; this covers photos it is unsure of.
 */
export const ATTRIBUTE_HEAD_VERTICAL: Record<string, string> = { garment_tags: 'fashion', gender: 'fashion', usage: 'fashion' };
