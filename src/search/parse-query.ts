// Free text -> filters + terms. "yellow mid-century loveseat under 200" becomes
// colour=yellow, category=sofa (via the synonym loveseat -> sofa), price <= 200 and the
// text term "mid-century". Labels are matched against the catalog's own vocabularies, so
// a word only becomes a filter when some product actually carries that label.

import type { Filters, RecognisedPhrase } from './types.ts';
import { assertQueryLength } from './filters.ts';
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

export function parseQuery(text: string, vocabularies: Record<string, string[]>): ParsedQuery {
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
  const terms: string[] = [];

  for (let i = 0; i < tokens.length; ) {
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
