// Free text -> filters + terms. "yellow mid-century loveseat under 200" becomes
// colour=yellow, category=sofa (via the synonym loveseat -> sofa), price <= 200 and the
// text term "mid-century". Labels are matched against the catalog's own vocabularies, so
// a word only becomes a filter when some product actually carries that label.
// A colour next to a garment ("red dress") asks for that garment in that colour
// (garment_colour=dress:red) when some photo's garments include a red dress (stored by
// `index --garments`): the photo's own colour would also be red for a blue dress beside a
// red bag. Otherwise the colour is matched as any other word (colour=red).

import type { Filters, RecognisedPhrase } from './types.ts';
import { assertQueryLength, GARMENT_COLOUR_FIELD } from './filters.ts';
import { COLOUR_WORDS, STOP_WORDS, SYNONYMS } from './synonyms.ts';

export interface ParsedQuery {
  text: string;
  filters: Filters;
  terms: string[];
  recognised: RecognisedPhrase[];
}

const MAX_TERMS = 20;
const MAX_NGRAM = 3;
const NUMBER = String.raw`(\d+(?:[.,]\d{1,2})?)`;
const CURRENCY = String.raw`(?:[$€£]\s*)?`;
const UNIT = String.raw`(?:\s*(?:dollars?|euros?|eur|usd|gbp|pounds?|bucks))?`;
const PRICE_PATTERNS: Array<{ re: RegExp; make: (a: number, b?: number) => { gte?: number; lte?: number } }> = [
  {
    re: new RegExp(String.raw`\b(?:between|from)\s+${CURRENCY}${NUMBER}${UNIT}\s+(?:and|to)\s+${CURRENCY}${NUMBER}${UNIT}`, 'giu'),
    make: (a, b) => ({ gte: Math.min(a, b!), lte: Math.max(a, b!) }),
  },
  {
    re: new RegExp(String.raw`(?<![\w-])${CURRENCY}${NUMBER}\s*-\s*${CURRENCY}${NUMBER}${UNIT}(?![\w-])`, 'giu'),
    make: (a, b) => ({ gte: Math.min(a, b!), lte: Math.max(a, b!) }),
  },
  {
    re: new RegExp(String.raw`(?:\b(?:under|below|less\s+than|cheaper\s+than|up\s+to|at\s+most|max(?:imum)?)\s+|<=?\s*)${CURRENCY}${NUMBER}${UNIT}`, 'giu'),
    make: (a) => ({ lte: a }),
  },
  {
    re: new RegExp(String.raw`(?:\b(?:over|above|more\s+than|at\s+least|min(?:imum)?|from)\s+|>=?\s*)${CURRENCY}${NUMBER}${UNIT}`, 'giu'),
    make: (a) => ({ gte: a }),
  },
];

const toNumber = (s: string) => Number(s.replace(',', '.'));

/** Normal form for comparing words with labels: lower case, hyphens and underscores as spaces. */
export function normalisePhrase(text: string): string {
  return text.toLowerCase().replace(/[-_]+/g, ' ').replace(/\s+/g, ' ').trim();
}

/** Crude English singular of the last word: sofas -> sofa, dresses -> dress, ponies -> pony. */
export function singular(phrase: string): string {
  return phrase.replace(/(\w+)$/, (word) => {
    if (word.length > 4 && word.endsWith('ies')) return `${word.slice(0, -3)}y`;
    if (word.length > 4 && /(ses|xes|ches|shes|zes)$/.test(word)) return word.slice(0, -2);
    if (word.length > 3 && word.endsWith('s') && !/(ss|us|is)$/.test(word)) return word.slice(0, -1);
    return word;
  });
}

interface VocabEntry {
  head: string;
  label: string;
}

/** normalised (and singular) label -> the heads that predict it. */
function indexVocabularies(vocabularies: Record<string, string[]>): Map<string, VocabEntry[]> {
  const index = new Map<string, VocabEntry[]>();
  for (const [head, labels] of Object.entries(vocabularies)) {
    for (const label of labels) {
      const forms = new Set([normalisePhrase(label), singular(normalisePhrase(label))]);
      for (const form of forms) {
        const entries = index.get(form) ?? [];
        entries.push({ head, label });
        index.set(form, entries);
      }
    }
  }
  return index;
}

/** The phrase itself, its singular, then its synonyms (and their singulars). */
function variants(phrase: string): string[] {
  const base = normalisePhrase(phrase);
  const out = [base, singular(base)];
  for (const key of [base, singular(base), base.replace(/ /g, '')]) {
    for (const synonym of SYNONYMS[key] ?? []) out.push(normalisePhrase(synonym), singular(normalisePhrase(synonym)));
  }
  return [...new Set(out)];
}

/** `colour|garment` (normalised, the garment also singular) -> the stored pair, `dress:red`. */
function indexGarmentPairs(pairs: readonly string[]): Map<string, string> {
  const index = new Map<string, string>();
  for (const pair of pairs) {
    const at = pair.indexOf(':');
    if (at < 1) continue;
    const label = normalisePhrase(pair.slice(0, at));
    const colour = normalisePhrase(pair.slice(at + 1));
    for (const form of [label, singular(label)]) if (!index.has(`${colour}|${form}`)) index.set(`${colour}|${form}`, pair);
  }
  return index;
}

interface PairMatch {
  pair: string;
  /** Tokens of the colour (the garment's are left to match as words). */
  colourTokens: number;
  phrase: string;
  via?: string;
}

/** A colour phrase (1-2 words: "light green") at `i` followed by a garment phrase (1-3 words) that form a stored pair. */
function matchGarmentPair(tokens: readonly string[], i: number, index: ReadonlyMap<string, string>): PairMatch | undefined {
  if (index.size === 0) return undefined;
  for (let c = Math.min(2, tokens.length - i - 1); c >= 1; c--) {
    const colour = tokens.slice(i, i + c).join(' ');
    for (let g = Math.min(MAX_NGRAM, tokens.length - i - c); g >= 1; g--) {
      const garment = tokens.slice(i + c, i + c + g).join(' ');
      for (const cv of variants(colour)) {
        for (const gv of variants(garment)) {
          const pair = index.get(`${cv}|${gv}`);
          if (!pair) continue;
          const phrase = `${colour} ${garment}`;
          const literal = cv === normalisePhrase(colour) && gv === normalisePhrase(garment);
          return { pair, colourTokens: c, phrase, ...(literal ? {} : { via: `${cv} ${gv}` }) };
        }
      }
    }
  }
  return undefined;
}

function pickEntry(entries: VocabEntry[], phrase: string): VocabEntry {
  if (COLOUR_WORDS.has(normalisePhrase(phrase))) {
    const colour = entries.find((e) => /^colou?r/i.test(e.head));
    if (colour) return colour;
  }
  return entries[0]!;
}

function addLabel(filters: Filters, head: string, label: string): void {
  const existing = filters[head];
  if (existing && 'in' in existing) {
    if (!existing.in.includes(label)) existing.in.push(label);
  } else if (existing && 'eq' in existing && typeof existing.eq === 'string') {
    if (existing.eq !== label) filters[head] = { in: [existing.eq, label] };
  } else filters[head] = { eq: label };
}

/** `garmentPairs`: the catalog's stored garment pairs (GarmentVocabulary.pairs); none: colours are matched as words only. */
export function parseQuery(text: string, vocabularies: Record<string, string[]>, garmentPairs: readonly string[] = []): ParsedQuery {
  assertQueryLength(text);
  const filters: Filters = {};
  const recognised: RecognisedPhrase[] = [];
  let rest = text.normalize('NFKC');

  // Prices first, so "under 200" never turns into the term "200".
  for (const { re, make } of PRICE_PATTERNS) {
    rest = rest.replace(re, (match: string, a: string, b?: string) => {
      const range = make(toNumber(a), b === undefined || typeof b !== 'string' ? undefined : toNumber(b));
      const previous = filters.price && !('eq' in filters.price) && !('in' in filters.price) ? filters.price : {};
      filters.price = { ...previous, ...range };
      recognised.push({ phrase: match.trim(), field: 'price', value: match.trim() });
      return ' ';
    });
  }

  // Words: letters, digits, hyphens and apostrophes; everything else separates.
  const tokens = rest.toLowerCase().split(/[^\p{L}\p{N}'-]+/u).map((t) => t.replace(/^['-]+|['-]+$/g, '')).filter(Boolean);
  const index = indexVocabularies(vocabularies);
  const pairs = indexGarmentPairs(garmentPairs);
  const terms: string[] = [];

  for (let i = 0; i < tokens.length; ) {
    const garment = matchGarmentPair(tokens, i, pairs);
    if (garment) {
      addLabel(filters, GARMENT_COLOUR_FIELD, garment.pair);
      recognised.push({ phrase: garment.phrase, field: GARMENT_COLOUR_FIELD, value: garment.pair, ...(garment.via ? { via: garment.via } : {}) });
      // Only the colour is used up: the garment word still matches a head (category=dress) or the text.
      i += garment.colourTokens;
      continue;
    }
    let matched = 0;
    // Longest phrase first: "t shirt" before "t", "bedside table" before "table".
    for (let n = Math.min(MAX_NGRAM, tokens.length - i); n >= 1 && !matched; n--) {
      const phrase = tokens.slice(i, i + n).join(' ');
      for (const variant of variants(phrase)) {
        const entries = index.get(variant);
        if (!entries) continue;
        const entry = pickEntry(entries, phrase);
        addLabel(filters, entry.head, entry.label);
        const literal = normalisePhrase(entry.label) === normalisePhrase(phrase);
        recognised.push({ phrase, field: entry.head, value: entry.label, ...(literal ? {} : { via: variant }) });
        matched = n;
        break;
      }
    }
    if (matched) {
      i += matched;
      continue;
    }
    const token = tokens[i]!;
    if (!STOP_WORDS.has(token) && !terms.includes(token) && terms.length < MAX_TERMS) terms.push(token);
    i++;
  }
  return { text, filters, terms, recognised };
}
