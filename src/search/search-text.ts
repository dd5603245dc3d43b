// Text search, hybrid: the listing's own words (title, description, the seller's category
// and attributes) are matched with LanceDB's full-text index (BM25, stemmed), and every word
// of the query counts there, also the ones that name a label. The model's labels are soft
// evidence, weighted by its confidence: a word that names a label ("yellow", "sofa") raises
// the products predicted so and lets in ones whose text lacks the word, but never removes a
// product. Only filters the user picked and price phrases ("under 200") are hard. A listing
// whose title is the query comes first. Every result says why it is there.

import { MultiMatchQuery, type FullTextQuery, type Table } from '@lancedb/lancedb';
import { GroknetError } from '../errors.ts';
import type { CatalogInfo, CatalogStore } from '../catalog/types.ts';
import { CATEGORY_COLUMN, COLUMNS } from '../catalog/schema.ts';
import { sqlIdentifier } from '../catalog/sql.ts';
import { computeFacets } from './facets.ts';
import { COLOUR_HEADS } from '../model/heads/colour-heads.ts';
import { buildWhere, filterFields, GARMENT_COLOUR_FIELD, GARMENT_FIELD, validateFilters, type FilterField } from './filters.ts';
import { normalisePhrase, parseQuery, singular } from './parse-query.ts';
import { JOINED_WORDS, STYLE_WORDS } from './synonyms.ts';
import { checkLimit, explainFilters, groupByProduct, readRows, resultColumns, toResult, type Candidate, type Row } from './results.ts';
import type { FilterCondition, Filters, RecognisedPhrase, SearchQuery, SearchResponse } from './types.ts';

/** Rows considered before ranking, per candidate source; facets are counted over these. */
export const TEXT_CANDIDATES = 500;
/**
 * Rows read for the label evidence alone: they rank below every listing whose words match,
 * so fewer are needed, and reading rows is most of a query's time (bench/text-search.ts).
 */
export const LABEL_CANDIDATES = 300;
/**
 * Hybrid weights: BM25 relevance (relative to the best match), the share of the query's
 * words the listing's own text holds, and the model's confidence in the labels the words
 * named. A listing that says what was asked outranks one the model only guessed.
 */
const WEIGHTS = { relevance: 0.4, coverage: 0.35, labels: 0.25 } as const;
/** Added for a listing whose title is the query (price phrases aside): it comes first. */
const EXACT_TITLE_BONUS = 1;
/** A predicted label below this is no evidence (a coin flip between two guesses). */
export const LABEL_EVIDENCE_FLOOR = 0.5;
/** Fields that are hard filters when the words name them: a price is a constraint, not a hint. */
const HARD_FIELDS = new Set(['price', 'currency']);

export interface TextSearchOptions {
  limit?: number;
  /** Structured filters, merged with (and overriding) those parsed from the text; always hard. */
  filters?: Filters;
  /** Also return products only the model's labels match, none of the words (ranked below). Default true. */
  includeFilterOnly?: boolean;
}

// Singular forms by token: titles repeat their words across thousands of candidates.
const singularOf = new Map<string, string>();
const SINGULAR_MEMO = 50_000;

/** A text's words as matching sees them: lower case, singular, joined words also split (JOINED_WORDS). */
export function listingWords(text: string): Set<string> {
  const out = words(text);
  for (const word of [...out]) for (const part of JOINED_WORDS[word] ?? []) out.add(part);
  return out;
}

function words(text: string): Set<string> {
  const out = new Set<string>();
  if (text === '') return out;
  for (const token of normalisePhrase(text).split(/[^\p{L}\p{N}]+/u)) {
    if (token === '') continue;
    let form = singularOf.get(token);
    if (form === undefined) {
      form = singular(token);
      if (singularOf.size >= SINGULAR_MEMO) singularOf.clear();
      singularOf.set(token, form);
    }
    out.add(form);
  }
  return out;
}

/** The seller's attribute values as text ("wool", "mid-century"), keys left out. */
function attributeText(row: Row): string {
  const raw = row[COLUMNS.attributes];
  if (typeof raw !== 'string' || raw === '' || raw === '{}') return '';
  try {
    const values: string[] = [];
    const walk = (value: unknown): void => {
      if (typeof value === 'string' || typeof value === 'number') values.push(String(value));
      else if (Array.isArray(value)) value.forEach(walk);
      else if (value && typeof value === 'object') Object.values(value).forEach(walk);
    };
    walk(JSON.parse(raw));
    return values.join(' ');
  } catch {
    return '';
  }
}

/** The parts of a listing that are its own words, in the order `why` names them, tokenised when first asked for. */
function ownText(candidate: Candidate): Array<[part: string, words: () => Set<string>]> {
  const lazy = (text: () => string): (() => Set<string>) => {
    let memo: Set<string> | undefined;
    return () => (memo ??= listingWords(text()));
  };
  return [
    ['title', lazy(() => candidate.title)],
    ['description', lazy(() => candidate.description)],
    ['category', lazy(() => candidate.category ?? '')],
    ['attributes', lazy(() => attributeText(candidate.row))],
  ];
}

/** The query's word groups: each free term, and each phrase that named a label (its own words). */
interface WordGroup {
  phrase: string;
  /** Forms that count as the group matching: the words typed, or the label they named. */
  forms: string[][];
}

/** A form and, where it has a joined word ("tshirt"), the same form with it split ("t shirt"). */
function withSplits(form: string[]): string[][] {
  if (!form.some((w) => JOINED_WORDS[w])) return [form];
  return [form, form.flatMap((w) => [...(JOINED_WORDS[w] ?? [w])])];
}

function wordGroups(terms: readonly string[], recognised: readonly RecognisedPhrase[]): WordGroup[] {
  const groups: WordGroup[] = terms.map((term) => ({ phrase: term, forms: withSplits([...words(term)]) }));
  for (const r of recognised) {
    if (HARD_FIELDS.has(r.field)) continue;
    // A garment pair (dress:red) counts in its colour and garment words together.
    const label = String(r.value).replace(':', ' ');
    groups.push({ phrase: r.phrase, forms: [[...words(r.phrase)], [...words(label)], ...(r.via ? [[...words(r.via)]] : [])].filter((f) => f.length > 0).flatMap(withSplits) });
  }
  return groups.filter((g) => g.forms.length > 0);
}

/** Which groups the listing's own text holds, and where ("title matches \"loveseat\"") when `explain`. */
function matchGroups(candidate: Candidate, groups: readonly WordGroup[], explain = true): { matched: number; why: string[] } {
  const parts = ownText(candidate);
  const why: string[] = [];
  let matched = 0;
  for (const group of groups) {
    const part = parts.find(([, have]) => group.forms.some((form) => form.every((w) => have().has(w))));
    if (!part) continue;
    matched++;
    if (explain) why.push(`${part[0]} matches "${group.phrase}"`);
  }
  return { matched, why };
}

/** Phrases named in a "no words match" reason: a long query is summed up, not repeated per result. */
const UNMATCHED_PHRASES_SHOWN = 3;

function unmatchedWhy(groups: readonly WordGroup[]): string {
  const shown = groups.slice(0, UNMATCHED_PHRASES_SHOWN).map((g) => `"${g.phrase}"`);
  const more = groups.length - shown.length;
  return `no words of the listing match ${shown.join(' ')}${more > 0 ? ` (or ${more} more of the query's words)` : ''}`;
}

/** Labels the words named: field -> the values asked for (soft evidence, never a filter). */
function evidenceOf(parsed: Filters): Array<[field: string, values: string[]]> {
  return Object.entries(parsed)
    .filter(([field]) => !HARD_FIELDS.has(field))
    .map(([field, condition]) => [field, 'eq' in condition ? [String(condition.eq)] : 'in' in condition ? condition.in : []] as [string, string[]])
    .filter(([, values]) => values.length > 0);
}

/**
 * How much a named label weighs in the evidence: what kind of product it is (a sofa, a
 * t-shirt) twice what colour it is, so "yellow sofa" ranks a grey sofa above a yellow shoe.
 */
function evidenceWeight(key: string): number {
  return COLOUR_HEADS.has(key) || key === GARMENT_COLOUR_FIELD ? 1 : 2;
}

/** Weighted mean confidence over the named labels (0 for each the product is not predicted as, or below the floor), with `why`. */
function labelEvidence(candidate: Candidate, evidence: ReadonlyArray<[string, string[]]>, fields: ReadonlyMap<string, FilterField>, explain = true): { score: number; why: string[] } {
  if (evidence.length === 0) return { score: 0, why: [] };
  let total = 0;
  let weights = 0;
  const why: string[] = [];
  for (const [key, values] of evidence) {
    const field = fields.get(key);
    const weight = evidenceWeight(key);
    weights += weight;
    if (field?.head) {
      const predicted = candidate.labels[field.head];
      if (predicted && values.includes(predicted.label) && predicted.score >= LABEL_EVIDENCE_FLOOR) {
        total += weight * predicted.score;
        if (explain) why.push(`${key}=${predicted.label} (predicted ${predicted.score.toFixed(2)})`);
      }
    } else if (field?.list) {
      const found = (candidate.lists[key] ?? []).filter((value) => values.includes(value));
      if (found.length > 0) {
        total += weight;
        if (explain) why.push(`${key}=${found.join(', ')} (garment in the photo)`);
      }
    }
  }
  return { score: total / weights, why };
}

/**
 * Where the labels the words named hold: `any` where one of them does, `all` (only when the
 * words named labels of two fields or more, "navy tshirts") where every one does. A read is
 * cut at a row limit in table order, not by score: products labelled as both words said are
 * read on their own, so those labelled as one word only cannot crowd them out.
 */
function evidenceWhere(evidence: ReadonlyArray<[string, string[]]>, hardWhere: string | undefined, info: CatalogInfo): { any: string; all?: string } | undefined {
  const fields = filterFields(info);
  const known = new Set(info.filterColumns);
  const parts = evidence.flatMap(([key, values]) => {
    const field = fields.get(key);
    if (!field || field.absent) return [];
    const condition: FilterCondition = values.length === 1 ? { eq: values[0]! } : { in: values };
    const clause = buildWhere({ [key]: condition }, info)!;
    // A head's label counts only where its score says it is evidence.
    return [field.scoreColumn ? `(${clause} AND ${sqlIdentifier(field.scoreColumn, known)} >= ${LABEL_EVIDENCE_FLOOR})` : clause];
  });
  if (parts.length === 0) return undefined;
  const within = (clause: string) => (hardWhere ? `${hardWhere} AND ${clause}` : clause);
  return { any: within(`(${parts.join(' OR ')})`), ...(parts.length > 1 ? { all: within(`(${parts.join(' AND ')})`) } : {}) };
}

/** How long an indexed table's list of full-text indexes is reused: an index added meanwhile (category, attributes) is used within this. */
const TEXT_INDEXES_TTL_MS = 2_000;
const textIndexes = new WeakMap<Table, { at: number; columns: Promise<string[]> }>();

/** Columns with a full-text index: title and description always once optimized, category and attributes in catalogs indexed since. */
function textIndexedColumns(table: Table): Promise<string[]> {
  const now = Date.now();
  const known = textIndexes.get(table);
  if (known && now - known.at < TEXT_INDEXES_TTL_MS) return known.columns;
  // Asked once per table every few seconds, not per query: listing the indexes is a round trip into LanceDB.
  const columns = table.listIndices().then((indices) => {
    const candidates = [COLUMNS.title, COLUMNS.description, CATEGORY_COLUMN, COLUMNS.attributes];
    return candidates.filter((column) => indices.some((i) => i.indexType === 'FTS' && i.columns.includes(column)));
  });
  textIndexes.set(table, { at: now, columns });
  // Only an indexed table's list is kept: one not yet optimized is asked again next query, so
  // the index is used from the first query after it is built.
  columns.then(
    (found) => {
      if (!found.includes(COLUMNS.title) || !found.includes(COLUMNS.description)) textIndexes.delete(table);
    },
    () => textIndexes.delete(table),
  );
  return columns;
}

/** Words reach the FTS engine as plain words only: no operators, no quotes. */
function ftsQuery(text: string, columns: string[]): FullTextQuery {
  return new MultiMatchQuery(text.replace(/[^\p{L}\p{N}\s-]+/gu, ' '), columns);
}

/** A title's words, case and punctuation aside: "Red T-Shirt!" -> "red t shirt". */
function titleWords(text: string): string {
  return normalisePhrase(text.normalize('NFKC')).split(/[^\p{L}\p{N}]+/u).filter(Boolean).join(' ');
}

/** The query as a title would say it: without its price phrases. */
function withoutPrices(text: string, recognised: readonly RecognisedPhrase[]): string {
  let rest = text.normalize('NFKC');
  for (const r of recognised) if (r.field === 'price') rest = rest.replace(r.phrase, ' ');
  return rest.replace(/\s+/g, ' ').trim();
}

/** How exactly the title is the query: 1 the same words, 1.5 the same text (case and spacing aside). */
function titleBonus(title: string, query: string, queryWords: string): number {
  // Most titles differ in length from the query: no need to tokenise them.
  if (queryWords === '' || Math.abs(title.length - query.length) > query.length) return 0;
  if (titleWords(title) !== queryWords) return 0;
  return title.replace(/\s+/g, ' ').trim().toLowerCase() === query.toLowerCase() ? EXACT_TITLE_BONUS * 1.5 : EXACT_TITLE_BONUS;
}

/** A note per style word of the query that names no label: the model cannot see style, so it was matched as text only. */
export function styleNotes(text: string, recognised: readonly RecognisedPhrase[]): string[] {
  const phrase = ` ${normalisePhrase(text)} `;
  const named = new Set(recognised.map((r) => normalisePhrase(r.phrase)));
  // Normalised alike, "mid-century" and "mid century" are one style.
  const found = [...new Set([...STYLE_WORDS].map(normalisePhrase))].filter((word) => phrase.includes(` ${word} `) && !named.has(word));
  return found.map((word) => `"${word}": style is not something the model can see (none of its training data labels style), so it was matched in the listings' own words only`);
}

export async function searchText(catalog: CatalogStore, text: string, options: TextSearchOptions = {}): Promise<SearchResponse> {
  if (typeof text !== 'string') throw new GroknetError('query_invalid', 'query must be text');
  const limit = checkLimit(options.limit, 20);
  const info = await catalog.info();
  const explicit = validateFilters(options.filters, info);
  // Garment pairs only where rows have garment columns: older catalogs pay nothing for them.
  const [vocabularies, garments] = await Promise.all([catalog.vocabularies(), info.garments ? catalog.garmentVocabulary() : undefined]);
  // Garment labels are one more vocabulary ("dress" -> garment=dress), after the heads': a
  // head that knows the word keeps it, as a head keeps its filter field (filters.ts).
  const vocabulary = garments && garments.labels.length > 0 && !(GARMENT_FIELD in vocabularies) ? { ...vocabularies, [GARMENT_FIELD]: garments.labels } : vocabularies;
  const parsed = parseQuery(text, vocabulary, garments?.pairs);
  // Hard: what the user picked, and price phrases. The labels the words named are evidence.
  const hard: Filters = { ...Object.fromEntries(Object.entries(parsed.filters).filter(([field]) => HARD_FIELDS.has(field))), ...explicit };
  const evidence = evidenceOf(parsed.filters).filter(([field]) => !(field in explicit));
  const groups = wordGroups(parsed.terms, parsed.recognised);
  const query: SearchQuery = { kind: 'text', text, filters: hard, terms: parsed.terms, recognised: parsed.recognised, limit };
  if (groups.length === 0 && Object.keys(hard).length === 0) {
    throw new GroknetError('query_invalid', 'the query has no words or filters to search for');
  }
  const table = await catalog.table();
  if (!table) return { query, results: [], facets: {} };

  const hardWhere = buildWhere(hard, info);
  const columns = resultColumns(info, [COLUMNS.attributes]);
  // Every word counts as text, also those that named a label: "red t-shirt" finds the title.
  const textWords = [...new Set(groups.flatMap((g) => g.forms.flat()))];

  // The listing-text candidates, the label evidence and a filter-only browse are independent
  // reads: they run together (LanceDB works off the JS thread), not one after the other.
  const readText = async (): Promise<Row[]> => {
    if (textWords.length === 0) return [];
    // Title and description indexed (what optimize builds first), else the scan below.
    const indexed = await textIndexedColumns(table);
    if (indexed.includes(COLUMNS.title) && indexed.includes(COLUMNS.description)) {
      let search = table.query().fullTextSearch(ftsQuery(textWords.join(' '), indexed)).select([...columns, '_score']).limit(TEXT_CANDIDATES);
      if (hardWhere) search = search.where(hardWhere);
      return readRows(search);
    }
    // No index yet (optimize has not run): match words in JS over the filtered rows.
    let scan = table.query().select(columns).limit(TEXT_CANDIDATES * 10);
    if (hardWhere) scan = scan.where(hardWhere);
    return (await scan.toArray()).map((row) => ({ ...row, _score: matchGroups(groupByProduct([row], info, () => 0)[0]!, groups).matched })).filter((row) => row._score > 0);
  };
  // Products the model labelled as the words said, whose own text may not say it.
  const labelWhere = evidenceWhere(evidence, hardWhere, info);
  const readEvidence = (where: string | undefined, limit: number) => (where && options.includeFilterOnly !== false ? readRows(table.query().where(where).select(columns).limit(limit)) : undefined);
  // With two labels named, the rows labelled as both come first (most of the budget), then either.
  const readLabelledAll = readEvidence(labelWhere?.all, Math.round((LABEL_CANDIDATES * 2) / 3));
  const readLabelled = readEvidence(labelWhere?.any, labelWhere?.all ? Math.round(LABEL_CANDIDATES / 3) : LABEL_CANDIDATES);
  // Only filters, no words: browse what they let through. With words, a product must match
  // a word or a label the words named: a picked filter narrows, it does not fill the page.
  const readBrowsed = hardWhere && groups.length === 0 ? readRows(table.query().where(hardWhere).select(columns).limit(TEXT_CANDIDATES)) : undefined;
  const [textRows, labelAllRows, labelAnyRows, browsedRows] = await Promise.all([readText(), readLabelledAll, readLabelled, readBrowsed]);
  const labelRows = labelAllRows || labelAnyRows ? [...(labelAllRows ?? []), ...(labelAnyRows ?? [])] : undefined;

  const textMatches = groupByProduct(textRows, info, (row) => Number(row._score ?? 0));
  const best = Math.max(...textMatches.map((c) => c.raw), 0) || 1;
  const seen = new Set(textMatches.map((c) => c.id));
  const labelOnly = labelRows ? groupByProduct(labelRows, info, () => 0).filter((c) => !seen.has(c.id)) : [];
  const browsed = browsedRows ? groupByProduct(browsedRows, info, () => 0) : [];
  const browsedIds = new Set(browsed.map((c) => c.id));

  const wanted = withoutPrices(text, parsed.recognised);
  const wantedWords = titleWords(wanted);
  const fields = filterFields(info);
  // Scored first without words (hundreds of candidates), explained only for the page returned:
  // the reasons are most of the strings a query would otherwise make.
  const scored: Array<{ candidate: Candidate; score: number; matched: number; relevance: number; bonus: number }> = [];
  for (const candidate of [...textMatches, ...labelOnly, ...browsed]) {
    const { matched } = matchGroups(candidate, groups, false);
    const labels = labelEvidence(candidate, evidence, fields, false);
    const relevance = candidate.raw / best;
    const coverage = groups.length > 0 ? matched / groups.length : 0;
    if (matched === 0 && relevance === 0 && labels.score === 0 && groups.length > 0 && !browsedIds.has(candidate.id)) continue;
    const bonus = titleBonus(candidate.title, wanted, wantedWords);
    const score = WEIGHTS.relevance * relevance + WEIGHTS.coverage * coverage + WEIGHTS.labels * labels.score + bonus;
    scored.push({ candidate, score, matched, relevance, bonus });
  }
  // Ties by id, on the rounded score the answer shows, so the order is the one a reader sees.
  const shown = (score: number) => Math.round(score * 10_000);
  scored.sort((a, b) => shown(b.score) - shown(a.score) || (a.candidate.id < b.candidate.id ? -1 : 1));
  const results = scored.slice(0, limit).map(({ candidate, score, matched, relevance, bonus }) => {
    const own = matchGroups(candidate, groups);
    const labels = labelEvidence(candidate, evidence, fields);
    const why = [...(bonus > 0 ? ['title is the query'] : []), ...own.why, ...labels.why, ...explainFilters(candidate, hard, info)];
    if (matched === 0 && relevance > 0) why.push(`text relevance ${candidate.raw.toFixed(2)}`);
    if (matched === 0 && relevance === 0 && groups.length > 0) why.push(unmatchedWhy(groups));
    return toResult(candidate, score, matched > 0 || relevance > 0 ? 'text' : 'filter', why);
  });
  const notes = styleNotes(text, parsed.recognised);
  return {
    query,
    results,
    facets: computeFacets(scored.map((r) => r.candidate)),
    ...(notes.length > 0 ? { notes } : {}),
  };
}
